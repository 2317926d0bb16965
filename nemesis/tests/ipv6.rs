//! The lab is IPv4-only: IPv6 between nodes (their automatic link-local
//! addresses) is dropped on the bridge, so no server can talk around a cut.
//! A control run without the rule shows the measurement can see IPv6 at all.
//! Needs root, iproute2 and nftables.

mod common;

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use nemesis::exec;

/// `(link-local address, ifindex)` of eth0 in namespace `ns`, once usable (not
/// tentative any more).
fn link_local(ns: &str) -> (Ipv6Addr, u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = exec::run("ip", &["-n", ns, "-6", "-o", "addr", "show", "dev", "eth0"], None)
            .expect("ip addr");
        let line = out.lines().find(|l| l.contains("fe80::"));
        if let Some(l) = line.filter(|l| !l.contains("tentative")) {
            let idx: u32 = l.split(':').next().expect("index").trim().parse().expect("ifindex");
            let addr = l
                .split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok())
                .expect("fe80 address");
            return (addr, idx);
        }
        assert!(Instant::now() < deadline, "no usable link-local address in {ns}: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether a UDP datagram from n1 reaches n2 over IPv6 link-local.
fn v6_reaches(lab: &nemesis::Lab) -> bool {
    let (dst, _) = link_local(&lab.node_ns(1).expect("ns"));
    let (_, src_if) = link_local(&lab.node_ns(0).expect("ns"));
    let (tx, rx) = std::sync::mpsc::channel();
    let receiver = nemesis::netns::spawn_in(&lab.node_ns(1).expect("ns"), move || {
        let sock = UdpSocket::bind("[::]:47300").expect("bind v6");
        sock.set_read_timeout(Some(Duration::from_millis(700))).expect("timeout");
        let _ = tx.send(());
        let mut buf = [0u8; 8];
        sock.recv(&mut buf).is_ok()
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("receiver ready");
    lab.in_node(0, move || {
        let sock = UdpSocket::bind("[::]:0").expect("bind");
        for _ in 0..5 {
            let _ = sock.send_to(b"v6", SocketAddrV6::new(dst, 47300, 0, src_if));
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .expect("sender");
    receiver.join().expect("receiver").expect("enter ns")
}

#[test]
fn ipv6_between_nodes_is_dropped() {
    let e = common::echo_lab(2);
    assert!(!v6_reaches(&e.lab), "IPv6 crossed the bridge");
    // Control: without the lab's rules, the same measurement sees IPv6 pass.
    exec::nft_in(&e.lab.switch_ns(), "flush chain bridge faultline forward\n").expect("flush");
    assert!(v6_reaches(&e.lab), "the control could not see IPv6 at all");
    common::destroy_and_check(e);
}
