package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the unit of the CPU times in /proc/PID/stat on Linux
// (USER_HZ, 100 on every common configuration).
const clockTicks = 100

// cpuSeconds reads the user plus system CPU time of process pid from
// /proc; ok is false where there is no /proc (not Linux).
func cpuSeconds(pid int) (secs float64, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the numbered fields follow its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // state is field 3, utime 14 and stime 15
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (ut + st) / clockTicks, true
}

// postgresCPUSeconds sums the CPU time of every process named postgres on
// this machine: the benchmark's Postgres is on loopback, and only one
// server is loaded at a time, so the growth during a run is that server's
// database work (plus what Postgres does in the background meanwhile).
func postgresCPUSeconds() (secs float64, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if s, ok := cpuSeconds(pid); ok {
			secs += s
		}
	}
	return secs, true
}

// cpuMeter measures the CPU a server process and Postgres spend during a
// run.
type cpuMeter struct {
	pid            int
	server, pg     float64
	serverOK, pgOK bool
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid}
	m.server, m.serverOK = cpuSeconds(pid)
	m.pg, m.pgOK = postgresCPUSeconds()
	return m
}

// stop returns the CPU microseconds per request of the server and of
// Postgres since start (-1 where unknown).
func (m cpuMeter) stop(requests int) (serverUS, pgUS float64) {
	serverUS, pgUS = -1, -1
	if requests <= 0 {
		return
	}
	if s, ok := cpuSeconds(m.pid); ok && m.serverOK {
		serverUS = (s - m.server) * 1e6 / float64(requests)
	}
	if p, ok := postgresCPUSeconds(); ok && m.pgOK {
		pgUS = (p - m.pg) * 1e6 / float64(requests)
	}
	return
}
