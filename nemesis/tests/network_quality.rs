//! Packet loss and latency on one link of a real lab, measured. Needs root,
//! iproute2, nftables and iptables (NFQUEUE).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddrV4, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use nemesis::lab::node_addr;
use nemesis::latency::LinkDelay;
use nemesis::netns;

/// Sends `count` datagrams from n1 to n2 and counts how many arrive.
fn udp_delivered(lab: &nemesis::Lab, count: usize) -> usize {
    let port = 47_100;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = netns::spawn_in(&lab.node_ns(1).expect("ns"), move || {
        let sock = UdpSocket::bind(SocketAddrV4::new(node_addr(1), port)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let _ = ready_tx.send(());
        let mut got = 0;
        let mut buf = [0u8; 16];
        while sock.recv(&mut buf).is_ok() {
            got += 1;
        }
        got
    });
    ready_rx.recv_timeout(Duration::from_secs(5)).expect("receiver ready");
    lab.in_node(0, move || {
        let sock = UdpSocket::bind(SocketAddrV4::new(node_addr(0), 0)).expect("bind");
        for i in 0..count {
            let _ = sock.send_to(&(i as u32).to_be_bytes(), SocketAddrV4::new(node_addr(1), port));
            if i % 50 == 0 {
                // Pace a little so no socket buffer overflows and loss is the rule's alone.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
    .expect("sender");
    receiver.join().expect("receiver").expect("enter ns")
}

#[test]
fn thirty_percent_loss_drops_about_thirty_percent() {
    let e = common::echo_lab(3);
    assert_eq!(udp_delivered(&e.lab, 1000), 1000, "no loss before the fault");
    e.lab.set_loss(&BTreeMap::from([((0, 1), 30u8)])).expect("loss");
    let delivered = udp_delivered(&e.lab, 1000);
    let lost = 1000 - delivered;
    eprintln!("measured loss at 30 %: {lost} of 1000 datagrams");
    assert!((200..=400).contains(&lost), "lost {lost} of 1000 at 30 %");
    // The reverse direction and other links are untouched.
    let tcp = common::tcp_matrix_expecting(&e.lab, &[vec![true; 3], vec![true; 3], vec![true; 3]]);
    assert!(tcp[0][2] && tcp[2][0] && tcp[1][2], "{tcp:?}");
    e.lab.heal_network().expect("heal");
    assert_eq!(udp_delivered(&e.lab, 1000), 1000, "loss healed");
    common::destroy_and_check(e);
}

/// Median round trip (ms) of `rounds` request/replies from n1 to n2's echo over one
/// connection.
fn median_rtt_ms(lab: &nemesis::Lab, rounds: usize) -> f64 {
    lab.in_node(0, move || {
        let addr = SocketAddrV4::new(node_addr(1), common::ECHO_PORT);
        let mut s =
            TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut reader = BufReader::new(s.try_clone().expect("clone"));
        let mut rtts = Vec::new();
        for i in 0..rounds {
            let t = Instant::now();
            s.write_all(format!("ping{i}\n").as_bytes()).expect("write");
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            assert_eq!(line.trim(), format!("ping{i}"));
            rtts.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rtts.sort_by(|a, b| a.total_cmp(b));
        rtts[rtts.len() / 2]
    })
    .expect("enter ns")
}

#[test]
fn a_fifty_ms_delay_adds_fifty_ms_to_round_trips() {
    let e = common::echo_lab(3);
    let before = median_rtt_ms(&e.lab, 21);
    let delays = BTreeMap::from([((0, 1), LinkDelay { delay_ms: 50, jitter_ms: 0 })]);
    e.lab.set_delays(&delays, 1).expect("delay");
    let during = median_rtt_ms(&e.lab, 21);
    let added = during - before;
    eprintln!("median round trip {before:.2} ms -> {during:.2} ms with a 50 ms delay");
    assert!((45.0..=80.0).contains(&added), "added {added:.1} ms ({before:.1} -> {during:.1})");
    // Jitter spreads round trips around the delay.
    let jitter = BTreeMap::from([((0, 1), LinkDelay { delay_ms: 50, jitter_ms: 20 })]);
    e.lab.set_delays(&jitter, 1).expect("jitter");
    let with_jitter = median_rtt_ms(&e.lab, 21) - before;
    assert!((25.0..=80.0).contains(&with_jitter), "jittered median added {with_jitter:.1} ms");
    e.lab.heal_network().expect("heal");
    let after = median_rtt_ms(&e.lab, 21);
    assert!(after - before < 20.0, "delay healed: {before:.1} -> {after:.1} ms");
    common::destroy_and_check(e);
}
