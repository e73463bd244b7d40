package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A server process under test, plus its children (nginx workers). All
// numbers come from /proc, so they work for any binary.

// family returns pid and its direct children.
func family(pid int) []int {
	if pid <= 0 {
		return nil
	}
	pids := []int{pid}
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, k := range strings.Fields(string(kids)) {
			if kp, err := strconv.Atoi(k); err == nil {
				pids = append(pids, kp)
			}
		}
	}
	return pids
}

// resetPeak resets the kernel's peak-RSS counter (VmHWM) of pid and its
// children to their current RSS (clear_refs "5", Linux ≥ 4.0).
func resetPeak(pid int) {
	for _, p := range family(pid) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
}

// statusField sums a "kB" field of /proc/PID/status (VmHWM, VmRSS) over
// pid and its children, in bytes.
func statusField(pid int, field string) int64 {
	var total int64
	for _, p := range family(pid) {
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

func peakRSS(pid int) int64 { return statusField(pid, "VmHWM") }
func curRSS(pid int) int64  { return statusField(pid, "VmRSS") }

// cpuTicks is user+system CPU time of pid and its children in clock ticks
// (USER_HZ, 100 on Linux).
func cpuTicks(pid int) int64 {
	var total int64
	for _, p := range family(pid) {
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

// openFDs counts open file descriptors of pid and its children.
func openFDs(pid int) int {
	n := 0
	for _, p := range family(pid) {
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p)); err == nil {
			n += len(ents)
		}
	}
	return n
}

func alive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
