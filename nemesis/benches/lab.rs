//! How long the lab's moving parts take (needs root, iproute2, nftables):
//! building and removing a 5-node lab, applying and healing a partition (one
//! nftables transaction each), verifying it with probes, and the same partition
//! applied and healed through the nemesis (its family, both verified by probes).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use nemesis::clock::ClockSupport;
use nemesis::families::partition::Partition;
use nemesis::inject::Nemesis;
use nemesis::schedule::FaultParams;
use nemesis::{Lab, LabConfig, PartitionShape, PartitionSpec};

fn lab_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("lab");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("create+destroy 5 nodes", |b| {
        b.iter(|| {
            let lab = Lab::create(LabConfig::nodes(5)).expect("lab");
            lab.destroy().expect("destroy");
        })
    });
    let lab = Lab::create(LabConfig::nodes(5)).expect("lab");
    let grudge = PartitionSpec::new(PartitionShape::MajoritiesRing)
        .grudge_seeded(5, 1, &[])
        .expect("grudge");
    group.bench_function("partition apply+heal (2 nft transactions)", |b| {
        b.iter(|| {
            lab.set_partition(&grudge).expect("apply");
            lab.heal_network().expect("heal");
        })
    });
    let nemesis =
        Nemesis::new(lab.clone(), ClockSupport::Unsupported { reason: "bench".into() }, 1);
    let spec = PartitionSpec::new(PartitionShape::MajoritiesRing);
    let fault = Partition { spec, grudge: Some(grudge.clone()) }.fault();
    group.bench_function("nemesis partition apply+heal-all (both verified)", |b| {
        b.iter(|| {
            assert!(nemesis.apply(&fault, &[]).expect("apply").verification.expect("v").ok());
            assert!(nemesis.heal_all().expect("heal").verification.expect("v").ok());
        })
    });
    lab.set_partition(&grudge).expect("apply");
    group.bench_function("verify partition, 5 nodes (20 links)", |b| {
        b.iter(|| assert!(lab.verify_partition().expect("verify").ok()))
    });
    group.finish();
    lab.destroy().expect("destroy");
}

criterion_group!(benches, lab_benches);
criterion_main!(benches);
