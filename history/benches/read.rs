//! Reading speed of the history formats, in operations per second: 200k history
//! entries shaped like the harness's register runs (keys, nodes, `info` with an
//! error, nemesis ops), held in memory so only parsing is measured.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use history::{Format, History, Op, OpKind, Process, Value, format};

fn sample(entries: usize) -> History {
    let mut ops = Vec::with_capacity(entries);
    let mut i = 0u64;
    while ops.len() < entries {
        let p = i % 50;
        let key = Value::Int((i / 500) as i64);
        let (f, value) = match i % 3 {
            0 => ("read", Value::Nil),
            1 => ("write", Value::Int((i % 5) as i64)),
            _ => ("cas", Value::List(vec![Value::Int(1), Value::Int(2)])),
        };
        let mut inv = Op::invoke(p, f, value.clone()).with_key(key.clone());
        inv.node = Some(format!("n{}", p % 5 + 1));
        let kind = if i.is_multiple_of(97) { OpKind::Info } else { OpKind::Ok };
        let mut done =
            Op::new(Process::Client(p), kind, f, if f == "read" { Value::Int(3) } else { value });
        done.key = Some(key);
        done.node = inv.node.clone();
        if kind == OpKind::Info {
            done.error = Some(Value::kw("timed-out"));
        }
        ops.push(inv);
        ops.push(done);
        if i.is_multiple_of(1000) {
            ops.push(Op::new(
                Process::Nemesis,
                OpKind::Info,
                "start-partition",
                Value::kw("majority"),
            ));
        }
        i += 1;
    }
    ops.truncate(entries);
    for (n, op) in ops.iter_mut().enumerate() {
        op.index = n as u64;
        op.time_ns = 1_000 * n as u64;
    }
    History::from_ops(ops)
}

fn benches(c: &mut Criterion) {
    let h = sample(200_000);
    let mut g = c.benchmark_group("read");
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(h.len() as u64));
    for f in [Format::Jsonl, Format::Edn] {
        let text = format::to_string(&h, f).expect("writable");
        g.bench_function(format!("{f}-200k"), |b| {
            b.iter(|| black_box(format::read_str(&text, f).expect("readable")))
        });
    }
    g.finish();
}

criterion_group!(read, benches);
criterion_main!(read);
