//! Test fixture for the lab (not part of the harness's interface):
//!
//! - `faultline-fixture echo PORT`: a TCP echo server on every address. A line
//!   `time` is answered with this process's wall clock (Unix seconds), `pid` with
//!   its pid, anything else is echoed back.
//! - `faultline-fixture hold-lab NODES PORT`: builds a lab, starts `echo PORT` on
//!   every node, prints the lab's prefix and the echo pids as one JSON line, then
//!   waits to be killed (the crash and signal tests).
//! - `faultline-fixture prereq`: checks the lab's prerequisites and prints the verdict.
//! - `faultline-fixture lab-roundtrip NODES`: builds a lab, isolates n1, verifies it
//!   with probes, heals, removes the lab (the rootless test runs this).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

use nemesis::{Lab, LabConfig, ProcessSpec};

fn serve(stream: TcpStream) {
    // One write per reply and no Nagle: round trips measure the network, not the
    // 40 ms delayed-ACK dance of split small writes.
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else { return };
    let mut writer = stream;
    for line in BufReader::new(read_half).lines() {
        let Ok(line) = line else { return };
        let reply = match line.trim() {
            "time" => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                format!("{:.3}", now.as_secs_f64())
            }
            "pid" => std::process::id().to_string(),
            other => other.to_string(),
        };
        if writer.write_all(format!("{reply}\n").as_bytes()).is_err() {
            return;
        }
    }
}

fn echo(port: &str) -> Result<(), String> {
    let listener =
        TcpListener::bind(format!("0.0.0.0:{port}")).map_err(|e| format!("bind :{port}: {e}"))?;
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream));
    }
    Ok(())
}

fn hold_lab(nodes: &str, port: &str) -> Result<(), String> {
    let nodes: usize = nodes.parse().map_err(|e| format!("NODES: {e}"))?;
    let lab = Lab::create(LabConfig::nodes(nodes)).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut pids = Vec::new();
    for node in 0..nodes {
        let spec = ProcessSpec::new(exe.to_string_lossy(), &["echo", port]);
        let h = lab.spawn_in(node, spec).map_err(|e| e.to_string())?;
        pids.push(lab.pid(h).unwrap_or(0));
    }
    println!("{{\"prefix\":\"{}\",\"pids\":{:?}}}", lab.prefix(), pids);
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn lab_roundtrip(nodes: &str) -> Result<(), String> {
    let nodes: usize = nodes.parse().map_err(|e| format!("NODES: {e}"))?;
    let lab = Lab::create(LabConfig::nodes(nodes)).map_err(|e| e.to_string())?;
    let spec = nemesis::PartitionSpec::new(nemesis::PartitionShape::IsolateOne { node: Some(0) });
    let grudge = spec.grudge_seeded(nodes, 0, &[]).map_err(|e| e.to_string())?;
    lab.set_partition(&grudge).map_err(|e| e.to_string())?;
    let cut = lab.verify_partition().map_err(|e| e.to_string())?;
    lab.heal_network().map_err(|e| e.to_string())?;
    let healed = lab.verify_partition().map_err(|e| e.to_string())?;
    lab.destroy().map_err(|e| e.to_string())?;
    if cut.ok() && healed.ok() {
        println!("ok");
        Ok(())
    } else {
        Err(format!("verification failed: cut {cut:?}, healed {healed:?}"))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match argv.as_slice() {
        ["echo", port] => echo(port),
        ["hold-lab", nodes, port] => hold_lab(nodes, port),
        ["lab-roundtrip", nodes] => lab_roundtrip(nodes),
        ["prereq"] => nemesis::prereq::check(nemesis::prereq::LAB_TOOLS)
            .map(|()| println!("ok"))
            .map_err(|e| e.to_string()),
        _ => Err("usage: faultline-fixture echo PORT | hold-lab NODES PORT | lab-roundtrip NODES | prereq".into()),
    };
    if let Err(e) = result {
        eprintln!("faultline-fixture: {e}");
        std::process::exit(1);
    }
}
