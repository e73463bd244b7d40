package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A server process under test, plus its children (nginx workers). All
// numbers come from /proc, so they work for any binary.

// procs are the server processes of one path (several for gateway replicas
// behind a balancer); every figure is summed over them and their children.
type procs []int

// parseProcs reads "PID[+PID...]"; "0" is none.
func parseProcs(s string) (procs, error) {
	var ps procs
	for _, f := range strings.Split(s, "+") {
		pid, err := strconv.Atoi(f)
		if err != nil || pid < 0 {
			return nil, fmt.Errorf("bad PID %q", f)
		}
		if pid > 0 {
			ps = append(ps, pid)
		}
	}
	return ps, nil
}

// family returns the processes and their direct children.
func family(ps procs) []int {
	var pids []int
	for _, pid := range ps {
		pids = append(pids, pid)
		if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			for _, k := range strings.Fields(string(kids)) {
				if kp, err := strconv.Atoi(k); err == nil {
					pids = append(pids, kp)
				}
			}
		}
	}
	return pids
}

// resetPeak resets the kernel's peak-RSS counter (VmHWM) of pid and its
// children to their current RSS (clear_refs "5", Linux ≥ 4.0).
func resetPeak(ps procs) {
	for _, p := range family(ps) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
}

// statusField sums a "kB" field of /proc/PID/status (VmHWM, VmRSS) over
// pid and its children, in bytes.
func statusField(ps procs, field string) int64 {
	var total int64
	for _, p := range family(ps) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, field+":") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					total += kb << 10
				}
			}
		}
	}
	return total
}

func peakRSS(ps procs) int64 { return statusField(ps, "VmHWM") }
func curRSS(ps procs) int64  { return statusField(ps, "VmRSS") }

// cpuTicks is user+system CPU time of pid and its children in clock ticks
// (USER_HZ, 100 on Linux).
func cpuTicks(ps procs) int64 {
	var total int64
	for _, p := range family(ps) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// fields after ")": state(0) ... utime(11) stime(12)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			total += u + st
		}
	}
	return total
}

// openFDs counts the open sockets of the processes and their children:
// what a connection leak leaves behind. Other descriptors are left out, as
// Go keeps a pool of pipes for splice(2) when it copies between TCP
// connections (tcplb), freed only by the garbage collector.
func openFDs(ps procs) int {
	n := 0
	for _, p := range family(ps) {
		dir := fmt.Sprintf("/proc/%d/fd", p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
				n++
			}
		}
	}
	return n
}

// alive reports whether every process is still there.
func alive(ps procs) bool {
	for _, pid := range ps {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return false
		}
	}
	return true
}
