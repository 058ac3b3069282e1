package jqsandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// limitMemory lowers the worker's address-space limit (RLIMIT_AS, hard and
// soft, so it cannot be raised again) to what it has mapped now plus
// budget and threadSlack. Counting from VmSize, not from zero, leaves out
// what the Go runtime reserves at start (its address-space reservations
// are large and mostly never touched), so budget is what an evaluation
// gets. A mapping that would pass the limit fails, and the Go runtime
// dies with "out of memory", which the pool reports as such.
func limitMemory(budget int64) error {
	size, err := vmSize()
	if err != nil {
		return err
	}
	limit := uint64(size + budget + threadSlack)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit})
}

// threadSlack is address space for the threads the worker may still start
// (a cgo build maps an 8 MiB stack per thread, which costs almost no
// memory until touched): with GOMAXPROCS=1, four more than at start.
const threadSlack = 32 << 20

// vmSize is the process's mapped address space, from /proc/self/status.
func vmSize() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmSize:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmSize: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}

// lowerPriority renices every thread of the worker to 10 (threads started
// later inherit it): a worker busy up to its deadline then yields the CPU
// to the process that serves every tenant's API. Linux sets a nice value
// per thread, hence the walk over /proc/self/task.
func lowerPriority() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, workerNice)
		}
	}
}

// workerNice is the workers' nice value.
const workerNice = 10

// sysProcAttr makes a worker die with the process that started it (SIGKILL
// when its parent thread ends: the pool starts workers from one goroutine
// locked to its thread for good, so that thread ends only with the
// process), so neither a test nor a kill -9 of the gateway leaves workers
// behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
