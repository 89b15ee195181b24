package phmail_test

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"flag"
	"fmt"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// The .eml fixtures and sample PDFs under testdata/ and examples/emails/ are
// written by this file: "go test ./phmail -run TestFixtureFiles
// -update-fixtures" rewrites them; without the flag the test checks that the
// committed files are what this code builds.
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite the .eml fixtures and sample PDFs")

// buildPDF writes a small, valid one-page PDF showing text. catalogExtra is
// added to the catalog dictionary and extraObjs become objects 6, 7, ...
func buildPDF(text, catalogExtra string, extraObjs ...string) []byte {
	content := fmt.Sprintf("BT /F1 14 Tf 24 60 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R" + catalogExtra + " >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 120] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	objs = append(objs, extraObjs...)
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// The sample PDFs.
var (
	contractPDF   = buildPDF("Contract DR00004711 - Mueller & Son Groesse GmbH", "")
	emailFirstPDF = buildPDF("Contract DR00009876 - Nordlicht Reisen AG", "")
	jsPDF         = buildPDF("Contract with a script", " /OpenAction 6 0 R",
		"<< /Type /Action /S /JavaScript /JS (app.alert\\('hello'\\);) >>")
	launchPDF = buildPDF("Contract with a launch action and an embedded file",
		" /OpenAction 6 0 R /Names << /EmbeddedFiles << /Names [(run.bat) 7 0 R] >> >>",
		"<< /S /Launch /F (run.bat) >>",
		"<< /Type /Filespec /F (run.bat) /EF << /F 8 0 R >> >>",
		"<< /Type /EmbeddedFile /Length 9 >>\nstream\necho hi\r\n\nendstream")
	fakePDF = []byte("<html><body>This is not a PDF, it is a web page saved as contract.pdf</body></html>\n")
	bombZ   = deflateTimes(make([]byte, 300<<20), 3)
	bombPDF = buildPDF("Contract with a 300 MiB stream", "",
		fmt.Sprintf("<< /Filter [/FlateDecode /FlateDecode /FlateDecode] /Length %d >>\nstream\n%s\nendstream", len(bombZ), bombZ))
	chainPDF = buildPDF("Contract with a script after 40 actions", " /OpenAction 6 0 R",
		actionChain(6, 40, "<< /S /JavaScript /JS (app.alert\\(1\\)) >>")...)
	gotoRPDF = buildPDF("Contract opening a file share", " /OpenAction 6 0 R",
		"<< /S 7 0 R /F (\\\\\\\\files.example\\\\share\\\\x.pdf) /D [0 /Fit] >>", "/GoToR")
	linkPDF = buildPDF("Contract DR00004711 with a link", "",
		"<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] /Border [0 0 0] /A << /S /URI /URI (https://ph.example.com/tickets/PH-100234) >> >>")
)

// b64 encodes data as a MIME body: base64 in lines of 76 characters.
func b64(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func latin1(s string) string {
	out, err := charmap.ISO8859_1.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return out
}

func cp1252(s string) string {
	out, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return out
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// pdfPart is a MIME part carrying a file.
func filePart(boundary, ctype, disposition, name string, data []byte) string {
	h := fmt.Sprintf("--%s\nContent-Type: %s", boundary, ctype)
	if name != "" && !strings.Contains(ctype, "name=") {
		h += fmt.Sprintf("; name=\"%s\"", name)
	}
	h += "\nContent-Transfer-Encoding: base64\n"
	if disposition != "" {
		h += "Content-Disposition: " + disposition
		if name != "" && !strings.Contains(disposition, "filename") {
			h += fmt.Sprintf("; filename=\"%s\"", name)
		}
		h += "\n"
	}
	return h + "\n" + b64(data)
}

func headers(subject, msgID string, extra ...string) string {
	h := "From: Provisioning Hub <noreply@ph.example.com>\nTo: bookbridge@example.com\n" +
		"Date: Tue, 03 Mar 2026 09:15:00 +0100\nSubject: " + subject + "\n"
	if msgID != "" {
		h += "Message-ID: <" + msgID + ">\n"
	}
	h += "MIME-Version: 1.0\n"
	for _, e := range extra {
		h += e + "\n"
	}
	return h
}

const stdBody = `Hello team,

the following order is ready to be provisioned.

- ECC ID: 0001234567
- Sales Order Number: 4500012345
- Deploy-To Email: anna.berg@mueller-son.example
- Marketing Cloud Tenant: mueller-son-prod
- Marketing Cloud Org ID: 1A2B3C4D5E6F7A8B9C0D1E2F
- Provisioning Hub Ticket Details: https://ph.example.com/tickets/PH-100234

Best Regards
Provisioning Hub
`

const stdSubject = "To Be Provisioned - =?UTF-8?Q?M=C3=BCller_&_S=C3=B8n_Gr=C3=B6=C3=9Fe_GmbH?= DR00004711"

func mixed(hdr, boundary, body string, files ...string) string {
	s := hdr + "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\nThis is a multi-part message in MIME format.\n\n" + body
	for _, f := range files {
		s += f
	}
	return s + "--" + boundary + "--\n"
}

func textPart(boundary, charset, cte, body string) string {
	return fmt.Sprintf("--%s\nContent-Type: text/plain; charset=%s\nContent-Transfer-Encoding: %s\n\n%s\n", boundary, charset, cte, body)
}

const outlookHTML = `<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style><!-- p.MsoNormal {margin:0cm; font-family:"Calibri"} --></style></head>
<body lang="DE"><div class="WordSection1">
<p class="MsoNormal">Hi,<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Provisioning Hub &lt;noreply@ph.example.com&gt;<br><b>Sent:</b> Monday, March 2, 2026 4:02 PM<br><b>To:</b> Deal Desk<br><b>Subject:</b> To Be Provisioned - Müller &amp; Søn Größe GmbH DR00004711<o:p></o:p></p></div>
<ul>
<li class="MsoListParagraph"><b><span style="font-size:11pt">ECC&nbsp;ID:</span></b><span>&nbsp;0001234567<o:p></o:p></span></li>
<li class="MsoListParagraph"><b>Sales Order Number:</b>&nbsp;4500012345, 4500012399</li>
<li class="MsoListParagraph"><b>Deploy-To Email:</b> <a href="mailto:anna.berg@mueller-son.example">anna.berg@mueller-son.example</a></li>
<li class="MsoListParagraph"><b>Marketing Cloud Tenant:</b> mueller-son-prod</li>
<li class="MsoListParagraph"><b>Marketing Cloud Org ID:</b> 1A2B3C4D5E6F7A8B9C0D1E2F@AdobeOrg</li>
</ul>
<p class="MsoNormal"><b>Provisioning Hub Ticket Details:</b><o:p></o:p></p>
<p class="MsoNormal"><a href="https://ph.example.com/tickets/PH-100234">https://ph.example.com/tickets/PH-100234</a><o:p></o:p></p>
<p class="MsoNormal">Best Regards<o:p></o:p></p>
<script>document.write("ECC ID: 9999999999")</script>
</div></body></html>
`

const tableHTML = `<!DOCTYPE html><html><head><title>ECC ID: not here</title></head><body>
<p>Dear colleagues,</p>
<table border="1" cellpadding="4">
<tr><th align="left"><b>ECC ID:</b></th><td>0001234567</td></tr>
<tr><th align="left"><b>Sales Order Number:</b></th><td>4500012345</td></tr>
<tr><th align="left"><b>Deploy-To Email:</b></th><td>anna.berg@mueller-son.example</td></tr>
<tr><th align="left"><b>Marketing Cloud Tenant:</b></th><td>mueller-son-prod</td></tr>
<tr><th align="left"><b>Marketing Cloud Org ID:</b></th><td>1A2B3C4D5E6F7A8B9C0D1E2F</td></tr>
<tr><th align="left"><b>Provisioning Hub Ticket Details:</b></th><td>https://ph.example.com/tickets/PH-100234</td></tr>
</table>
<p>Best Regards<br>Provisioning Hub</p>
</body></html>
`

// fixtures are the parser's test corpus, by file name.
func fixtures() map[string]string {
	f := map[string]string{}
	// Plain text, LF line ends, bulleted labels, a PDF attachment.
	f["01-plain-lf.eml"] = mixed(headers(stdSubject, "ph-01@ph.example.com"), "b1",
		textPart("b1", "utf-8", "7bit", stdBody),
		filePart("b1", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// CRLF, quoted-printable UTF-8, spacing and case variants of labels,
	// comma lists, a ticket spanning lines, tab-indented lines.
	variants := "Hallo zusammen,\n\nbitte provisionieren – danke schön!\n\n" +
		"*   ecc  id :   0001234567\n" +
		"\tSALES ORDER NUMBER:4500012345, 4500012399\n" +
		"• Deploy-To  Email :  Anna Berg <anna.berg@mueller-son.example>\n" +
		"  Marketing\tCloud Tenant: mueller-son-prod, mueller-son-stage\n" +
		"**Marketing Cloud Org ID:** 1A2B3C4D5E6F7A8B9C0D1E2F@AdobeOrg\n" +
		"- provisioning hub ticket details: PH-100234\n  https://ph.example.com/tickets/PH-100234 (priority: normal)\n\n" +
		"best regards,\nProvisioning Hub – Team Größe\n"
	f["02-crlf-qp-variants.eml"] = crlf(mixed(headers(stdSubject, "ph-02@ph.example.com"), "b2",
		textPart("b2", "\"UTF-8\"", "quoted-printable", qp(variants)),
		filePart("b2", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF)))

	// HTML only (a table), quoted-printable; the PDF inline.
	f["03-html-table-inline-pdf.eml"] = mixed(headers(stdSubject, "ph-03@ph.example.com"), "b3",
		"--b3\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"+qp(tableHTML)+"\n",
		filePart("b3", "application/pdf", "inline", "Contract_DR00004711.pdf", contractPDF))

	// HTML only, Outlook paragraphs and list, base64, forwarded by Outlook.
	f["04-html-outlook-forward.eml"] = mixed(headers("FW: "+stdSubject, "ph-04@mail.example.com", "Thread-Topic: To Be Provisioned"), "b4",
		"--b4\nContent-Type: text/html; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n"+b64([]byte(outlookHTML)),
		filePart("b4", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// multipart/alternative (text and HTML) inside multipart/mixed.
	alt := "--b5\nContent-Type: multipart/alternative; boundary=\"alt5\"\n\n" +
		textPart("alt5", "utf-8", "quoted-printable", qp(stdBody)) +
		"--alt5\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(tableHTML) + "\n--alt5--\n"
	f["05-multipart-alternative.eml"] = mixed(headers(stdSubject, "ph-05@ph.example.com"), "b5", alt,
		filePart("b5", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// ISO-8859-1 body (quoted-printable) and an ISO-8859-1 encoded subject.
	latinBody := "Sehr geehrte Damen und Herren,\n\nFirma: Müller & Søn Größe GmbH\n\n" + strings.ReplaceAll(stdBody, "Hello team,\n\n", "")
	f["06-iso-8859-1.eml"] = mixed(headers("To Be Provisioned - =?ISO-8859-1?Q?M=FCller_&_S=F8n_Gr=F6=DFe_GmbH?= DR00004711", "ph-06@ph.example.com"), "b6",
		textPart("b6", "iso-8859-1", "quoted-printable", qp(latin1(latinBody))),
		filePart("b6", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// Windows-1252, 8bit, German reply and forward prefixes, a PDF sent as
	// application/octet-stream, the value below its label, numbered items.
	cpBody := "Guten Tag,\n\n„Bitte“ – wie besprochen:\n\n1. ECC ID:\n   0001234567\n2. Sales Order Number: 4500012345\n" +
		"3. Deploy-To Email: anna.berg@mueller-son.example\n4. Marketing Cloud Tenant: mueller-son-prod\n" +
		"5. Marketing Cloud Org ID: 1A2B3C4D5E6F7A8B9C0D1E2F\n6. Provisioning Hub Ticket Details: https://ph.example.com/tickets/PH-100234 Best Regards\n"
	f["07-windows-1252-octet-stream.eml"] = mixed(headers("AW: WG: wg: "+stdSubject, "ph-07@ph.example.com"), "b7",
		textPart("b7", "windows-1252", "8bit", cp1252(cpBody)),
		filePart("b7", "application/octet-stream", "attachment", "Contract_DR00004711.PDF", contractPDF))

	// A Gmail-style forward with quoted reply lines, RE:/Fwd: prefixes.
	fwd := "See below.\n\n---------- Forwarded message ---------\nFrom: Provisioning Hub <noreply@ph.example.com>\n" +
		"Date: Mon, Mar 2, 2026 at 4:02 PM\nSubject: To Be Provisioned - Müller & Søn Größe GmbH DR00004711\nTo: <dealdesk@example.com>\n\n" +
		"> Hello team,\n>\n> - ECC ID: 0001234567\n> - Sales Order Number: 4500012345\n> > - Deploy-To Email: anna.berg@mueller-son.example\n" +
		"> - Marketing Cloud Tenant: mueller-son-prod\n> - Marketing Cloud Org ID: 1A2B3C4D5E6F7A8B9C0D1E2F\n" +
		"> - Provisioning Hub Ticket Details: https://ph.example.com/tickets/PH-100234\n>\n> Best Regards\n\n" +
		"An older copy said:\n> - ECC ID: 0001234500\n"
	f["08-forward-quoted.eml"] = mixed(headers("RE: Fwd:  "+stdSubject, "ph-08@mail.example.com"), "b8",
		textPart("b8", "utf-8", "8bit", fwd),
		filePart("b8", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// A file named .pdf that is not a PDF, beside a real one.
	f["09-fake-pdf.eml"] = mixed(headers(stdSubject, "ph-09@ph.example.com"), "b9",
		textPart("b9", "utf-8", "7bit", stdBody),
		filePart("b9", "application/pdf", "attachment", "contract.pdf", fakePDF),
		filePart("b9", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// PDFs with active content: JavaScript on open; a launch action and an
	// embedded file.
	f["10-active-content-pdf.eml"] = mixed(headers(stdSubject, "ph-10@ph.example.com"), "b10",
		textPart("b10", "utf-8", "7bit", stdBody),
		filePart("b10", "application/pdf", "attachment", "Contract_js.pdf", jsPDF),
		filePart("b10", "application/pdf", "attachment", "Contract_launch.pdf", launchPDF))

	// Not a PH email.
	f["11-not-ph.eml"] = headers("Lunch on Friday?", "lunch@example.com") +
		"Content-Type: text/plain; charset=utf-8\n\nECC ID: 0001234567 is my favourite number.\n"

	// A PH subject without a DR number and a body without the ECC id.
	f["12-missing-fields.eml"] = headers("To Be Provisioned", "") +
		"Content-Type: text/plain; charset=utf-8\n\n- Sales Order Number: 4500012345\n- Marketing Cloud Tenant: mueller-son-prod\n"

	// Broken MIME: an unclosed boundary, corrupt base64 text, a part
	// without Content-Type; the fields still come through.
	f["13-malformed-mime.eml"] = headers(stdSubject, "ph-13@ph.example.com") +
		"Content-Type: multipart/mixed; boundary=\"b13\"\n\n--b13\nContent-Type: text/plain; charset=utf-8\n\n" + stdBody +
		"\n--b13\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"notes.txt\"\n\nSGVsbG8gd29ybGQ*&^%\n" +
		"--b13\n\nA part without headers.\n" +
		"--b13\nContent-Type: application/pdf; name=\"Contract_DR00004711.pdf\"\nContent-Transfer-Encoding: base64\n\n" + b64(contractPDF)

	// MIME nested deeper than the default limit.
	deep := headers(stdSubject, "ph-14@ph.example.com")
	for i := range 12 {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=\"d%d\"\n\n--d%d\n", i, i)
	}
	deep += "Content-Type: text/plain\n\n" + stdBody
	for i := 11; i >= 0; i-- {
		deep += fmt.Sprintf("--d%d--\n", i)
	}
	f["14-deep-nesting.eml"] = deep

	// Unsafe and duplicate file names, an RFC 2231 name, an inline image in
	// multipart/related, CRLF.
	rel := "--b15\nContent-Type: multipart/related; boundary=\"rel15\"\n\n" +
		"--rel15\nContent-Type: text/html; charset=utf-8\n\n" + strings.Replace(tableHTML, "<p>Dear colleagues,</p>", `<p><img src="cid:logo@ph"></p>`, 1) + "\n" +
		"--rel15\nContent-Type: image/png\nContent-ID: <logo@ph>\nContent-Transfer-Encoding: base64\n\n" + b64([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")) +
		"--rel15--\n"
	f["15-unsafe-names.eml"] = crlf(mixed(headers(stdSubject, "ph-15@ph.example.com"), "b15", rel,
		filePart("b15", "application/pdf", "attachment", "../../etc/passwd.pdf", contractPDF),
		filePart("b15", "application/pdf", "attachment", `C:\\Users\\pat\\con?tract*.pdf`, contractPDF),
		filePart("b15", "application/pdf", "attachment; filename*=UTF-8''Vertrag%20M%C3%BCller.pdf", "", contractPDF),
		filePart("b15", "application/pdf", "attachment", "passwd.pdf", contractPDF),
		filePart("b15", "application/pdf", "attachment", "", contractPDF)))
	// Nothing but blank lines: not a message at all.
	f["16-empty-message.eml"] = "\r\n\r\n"

	// Hostile files that pass for PDFs, beside the real contract: a ZIP
	// holding the contract, a compressed-stream bomb, a script at the end of
	// an action chain deeper than the scan depth, a GoToR to a UNC path
	// behind an indirect /S, a file without startxref.
	f["17-hostile-pdfs.eml"] = mixed(headers(stdSubject, "ph-17@ph.example.com"), "b17",
		textPart("b17", "utf-8", "7bit", stdBody),
		filePart("b17", "application/pdf", "attachment", "Contract_zip.pdf", zipOf("Contract_DR00004711.pdf", contractPDF)),
		filePart("b17", "application/pdf", "attachment", "Contract_bomb.pdf", bombPDF),
		filePart("b17", "application/pdf", "attachment", "Contract_chain.pdf", chainPDF),
		filePart("b17", "application/pdf", "attachment", "Contract_gotor.pdf", gotoRPDF),
		filePart("b17", "application/pdf", "attachment", "Contract_cut.pdf", contractPDF[:bytes.LastIndex(contractPDF, []byte("startxref"))]),
		filePart("b17", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))

	// A usable contract with a web link: usable, with a warning.
	f["18-uri-link.eml"] = mixed(headers(stdSubject, "ph-18@ph.example.com"), "b18",
		textPart("b18", "utf-8", "7bit", stdBody),
		filePart("b18", "application/pdf", "attachment", "Contract_DR00004711.pdf", linkPDF))
	return f
}

// zipOf returns a ZIP archive holding data, stored uncompressed so that
// the PDF's header shows within its first bytes.
func zipOf(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

// deflateTimes compresses data with zlib, layers times over.
func deflateTimes(data []byte, layers int) []byte {
	for range layers {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	return data
}

// actionChain returns n GoTo actions, objects first, first+1, ..., each
// pointing at the next, then last.
func actionChain(first, n int, last string) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("<< /S /GoTo /D [3 0 R /Fit] /Next %d 0 R >>", first+i+1))
	}
	return append(out, last)
}

// examples are the sample emails under examples/emails, matching the example
// payloads.
func examples() map[string]string {
	f := map[string]string{}
	f["ph-deal-full.eml"] = mixed(headers(stdSubject, "ph-example-4711@ph.example.com"), "ex1",
		textPart("ex1", "utf-8", "quoted-printable", qp(stdBody)),
		filePart("ex1", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF))
	f["ph-deal-full-html-forward.eml"] = mixed(headers("FW: "+stdSubject, "ph-example-4711-fw@mail.example.com"), "ex2",
		"--ex2\nContent-Type: text/html; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n"+b64([]byte(outlookHTML)),
		filePart("ex2", "application/octet-stream", "attachment", "Contract_DR00004711.pdf", contractPDF))
	firstBody := strings.NewReplacer("0001234567", "0009876543", "4500012345", "4500098765",
		"anna.berg@mueller-son.example", "ops@nordlicht-reisen.example", "mueller-son-prod", "nordlicht-prod",
		"1A2B3C4D5E6F7A8B9C0D1E2F", "F0E1D2C3B4A5968778695A4B", "PH-100234", "PH-100987").Replace(stdBody)
	f["ph-email-first.eml"] = mixed(headers("To Be Provisioned - Nordlicht Reisen AG DR00009876", "ph-example-9876@ph.example.com"), "ex3",
		textPart("ex3", "utf-8", "8bit", firstBody),
		filePart("ex3", "application/pdf", "attachment", "Contract_DR00009876.pdf", emailFirstPDF))
	return f
}

func TestFixtureFiles(t *testing.T) {
	files := map[string][]byte{
		"testdata/contract.pdf":                      contractPDF,
		"testdata/javascript.pdf":                    jsPDF,
		"testdata/launch-embedded.pdf":               launchPDF,
		"testdata/not-a-pdf.pdf":                     fakePDF,
		"../examples/emails/Contract_DR00004711.pdf": contractPDF,
		"../examples/emails/Contract_DR00009876.pdf": emailFirstPDF,
	}
	for name, s := range fixtures() {
		files["testdata/"+name] = []byte(s)
	}
	for name, s := range examples() {
		files["../examples/emails/"+name] = []byte(s)
	}
	for name, want := range files {
		if *updateFixtures {
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%v (run: go test ./phmail -run TestFixtureFiles -update-fixtures)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what fixtures_test.go builds; run: go test ./phmail -run TestFixtureFiles -update-fixtures", name)
		}
	}
}
