//go:build !linux

package jqsandbox

import "syscall"

// limitMemory has no hard limit to set outside Linux (other systems do not
// enforce RLIMIT_AS): there the worker's soft memory limit and the pool's
// deadline bound it. Deployments run on Linux.
func limitMemory(int64) error { return nil }

// sysProcAttr: no parent-death signal outside Linux; a worker ends when
// its stdin closes.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// lowerPriority: nothing outside Linux.
func lowerPriority() {}
