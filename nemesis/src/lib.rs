//! The lab and its faults.
//!
//! Will hold the lab (a switch network namespace with a bridge, one namespace per
//! node, nftables rules) and one file per fault family: partitions by shape, packet
//! loss, latency, kill, pause, restart, clock skew; fault schedules; heal-all.
