#!/usr/bin/env node
// Parses every Apex class (.cls) and trigger (.trigger) under the given
// directories (default: force-app) with @apexdevtools/apex-parser and prints
// each syntax error as file:line:col: message. Exits 0 when every file
// parses, 1 when any does not, 2 on usage or I/O errors.
//
//   node scripts/parse-check.mjs [DIR|FILE ...]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ApexErrorListener, ApexParserFactory } from "@apexdevtools/apex-parser";

class CollectingListener extends ApexErrorListener {
  constructor() {
    super();
    this.errors = [];
  }

  apexSyntaxError(line, column, msg) {
    this.errors.push({ line, column, msg });
  }
}

function apexFiles(path, out) {
  const info = statSync(path);
  if (info.isFile()) {
    if (path.endsWith(".cls") || path.endsWith(".trigger")) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    apexFiles(join(path, entry.name), out);
  }
  return out;
}

// checkSource returns the syntax errors of one file's text; ANTLR columns
// are 0-based, editors count from 1.
export function checkSource(source, isTrigger) {
  const listener = new CollectingListener();
  const { parser } = ApexParserFactory.createLexerAndParser(source, listener);
  if (isTrigger) parser.triggerUnit();
  else parser.compilationUnit();
  return listener.errors.map((e) => ({ line: e.line, column: e.column + 1, msg: e.msg }));
}

function main(args) {
  const roots = args.length > 0 ? args : ["force-app"];
  let files = [];
  try {
    for (const root of roots) apexFiles(root, files);
  } catch (err) {
    console.error(`parse-check: ${err.message}`);
    return 2;
  }
  files = files.sort();
  if (files.length === 0) {
    console.error(`parse-check: no .cls or .trigger file under ${roots.join(", ")}`);
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    const errors = checkSource(readFileSync(file, "utf8"), file.endsWith(".trigger"));
    if (errors.length > 0) failed++;
    const shown = relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file);
    for (const e of errors) {
      console.log(`${shown}:${e.line}:${e.column}: ${e.msg.replace(/\r?\n/g, "\\n")}`);
    }
  }
  console.log(`parse-check: ${files.length} files, ${failed} with syntax errors`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
