//! Workloads: what clients do and which checker judges it.
//!
//! Will hold one file per workload (register, multi-register, list-append, set,
//! counter, bank, lock, discovery, watch): its operation generator and its checker.
//! A workload knows nothing of which system runs it.
