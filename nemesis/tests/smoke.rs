use std::time::{Duration, Instant};
use nemesis::*;

#[test]
fn smoke() {
    let t = Instant::now();
    let lab = Lab::create(LabConfig::nodes(5)).expect("lab");
    eprintln!("setup {:?} prefix {}", t.elapsed(), lab.prefix());
    let t = Instant::now();
    let m = probe::measure(&lab, Duration::from_millis(100)).expect("m");
    eprintln!("probe {:?} {:?}", t.elapsed(), m);
    let g = PartitionSpec::new(PartitionShape::MajoritiesRing).grudge(5, &mut <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1), &[]).unwrap();
    lab.set_partition(&g).unwrap();
    eprintln!("verify {:?}", lab.verify_partition().unwrap());
    let t = Instant::now();
    drop(lab);
    eprintln!("teardown {:?}", t.elapsed());
}
