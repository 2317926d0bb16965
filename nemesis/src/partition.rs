//! Partitions as data: a [`Grudge`] is the set of directed links `(src, dst)` whose
//! packets are dropped, and a [`PartitionShape`] names how to compute one, in
//! Jepsen's vocabulary. Everything here is pure (randomness is passed in) so that a
//! schedule can be computed, printed and replayed before anything is applied.
//!
//! One-way variants keep half of the links: for shapes made of sides (isolate,
//! halves, majority/minority, primaries) a node of an earlier side cannot send to
//! a later side, but the later side still reaches the earlier one (the first side
//! is the isolated node, the minority, or the primaries). For the ring and the
//! bridge, the link `a -> b` stays cut only when `a < b`.
//! Note that a one-way cut still stops *new* TCP connections in both directions
//! (the SYN-ACK cannot come back); only datagrams and established flows see it as
//! one-way.

use std::collections::BTreeSet;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::{NemesisError, Result};

/// Directed links to cut: `(src, dst)` means packets from `src` to `dst` are dropped.
/// Nodes are 0-based indices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grudge {
    pub blocked: BTreeSet<(usize, usize)>,
}

impl Grudge {
    /// Cuts every link between different sides, both ways.
    pub fn between_sides(sides: &[Vec<usize>]) -> Grudge {
        let mut blocked = BTreeSet::new();
        for (i, a) in sides.iter().enumerate() {
            for (j, b) in sides.iter().enumerate() {
                if i != j {
                    for &s in a {
                        for &d in b {
                            blocked.insert((s, d));
                        }
                    }
                }
            }
        }
        Grudge { blocked }
    }

    /// Whether packets from `src` reach `dst` under this grudge.
    pub fn allows(&self, src: usize, dst: usize) -> bool {
        !self.blocked.contains(&(src, dst))
    }

    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty()
    }

    /// The reachability matrix `m[src][dst]` for `nodes` nodes (diagonal true).
    pub fn matrix(&self, nodes: usize) -> Vec<Vec<bool>> {
        (0..nodes).map(|s| (0..nodes).map(|d| self.allows(s, d)).collect()).collect()
    }

    /// The matrix a TCP connection sees: it needs both directions.
    pub fn tcp_matrix(&self, nodes: usize) -> Vec<Vec<bool>> {
        (0..nodes)
            .map(|s| (0..nodes).map(|d| self.allows(s, d) && self.allows(d, s)).collect())
            .collect()
    }

    fn check(&self, nodes: usize) -> Result<()> {
        for &(s, d) in &self.blocked {
            if s >= nodes || d >= nodes || s == d {
                return Err(NemesisError::Invalid(format!(
                    "link n{} -> n{} in a lab of {nodes} nodes",
                    s + 1,
                    d + 1
                )));
            }
        }
        Ok(())
    }
}

/// How to choose whom to cut off, after Jepsen's `nemesis` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "shape")]
pub enum PartitionShape {
    /// Cut one node from all others (a random one when `node` is None).
    IsolateOne { node: Option<usize> },
    /// Shuffle the nodes and cut them into two halves (Jepsen's random-halves).
    RandomHalves,
    /// Cut a minority from the majority; a random minority of floor(n/2) nodes
    /// when `minority` is None.
    MajorityMinority { minority: Option<Vec<usize>> },
    /// Every node sees a majority, but no two nodes see the same majority: nodes on
    /// a shuffled ring hear only their nearest neighbours.
    MajoritiesRing,
    /// Two halves that cannot talk, and one node in the middle that talks to both.
    Bridge,
    /// Cut the nodes the system reports as leaders from the rest.
    Primaries,
    /// Cut the largest minority that holds the leaders (floor((n-1)/2) nodes: the
    /// leaders plus random others) from the majority: the deposed leader keeps
    /// followers, whose clients it can still answer (with 3 or 4 nodes the
    /// leaders alone, as `primaries`).
    LeaderMinority,
    /// Exactly these directed links.
    Explicit { grudge: Grudge },
}

/// A shape's name, its short aliases (as `faultline lab partition` takes them)
/// and the shape with its random choices left open.
type ShapeName = (&'static str, &'static [&'static str], fn() -> PartitionShape);

const SHAPE_NAMES: &[ShapeName] = &[
    ("isolate-one", &["isolate"], || PartitionShape::IsolateOne { node: None }),
    ("random-halves", &["halves"], || PartitionShape::RandomHalves),
    ("majority-minority", &[], || PartitionShape::MajorityMinority { minority: None }),
    ("majorities-ring", &["ring"], || PartitionShape::MajoritiesRing),
    ("bridge", &[], || PartitionShape::Bridge),
    ("primaries", &[], || PartitionShape::Primaries),
    ("leader-minority", &[], || PartitionShape::LeaderMinority),
    ("grudge", &[], || PartitionShape::Explicit { grudge: Grudge { blocked: BTreeSet::new() } }),
];

impl PartitionShape {
    /// Its name, as histories and the command line write it.
    pub fn name(&self) -> &'static str {
        match self {
            PartitionShape::IsolateOne { .. } => "isolate-one",
            PartitionShape::RandomHalves => "random-halves",
            PartitionShape::MajorityMinority { .. } => "majority-minority",
            PartitionShape::MajoritiesRing => "majorities-ring",
            PartitionShape::Bridge => "bridge",
            PartitionShape::Primaries => "primaries",
            PartitionShape::LeaderMinority => "leader-minority",
            PartitionShape::Explicit { .. } => "grudge",
        }
    }

    /// Every shape name (without aliases).
    pub fn names() -> Vec<&'static str> {
        SHAPE_NAMES.iter().map(|(name, _, _)| *name).collect()
    }

    /// The shape called `name` or one of its aliases, with its random choices left
    /// open (an explicit grudge starts empty); the error lists the names.
    pub fn by_name(name: &str) -> std::result::Result<PartitionShape, String> {
        let name = name.trim();
        SHAPE_NAMES
            .iter()
            .find(|(n, aliases, _)| *n == name || aliases.contains(&name))
            .map(|(_, _, make)| make())
            .ok_or_else(|| {
                format!("unknown partition shape {name:?} (known: {})", Self::names().join(", "))
            })
    }

    /// Whether drawing it needs nothing but the node count and randomness (not
    /// an explicit link list).
    pub fn is_drawable(&self) -> bool {
        !matches!(self, PartitionShape::Explicit { .. })
    }
}

/// A shape and whether only one direction is cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSpec {
    #[serde(flatten)]
    pub shape: PartitionShape,
    #[serde(default)]
    pub one_way: bool,
}

impl PartitionSpec {
    pub fn new(shape: PartitionShape) -> PartitionSpec {
        PartitionSpec { shape, one_way: false }
    }

    pub fn one_way(shape: PartitionShape) -> PartitionSpec {
        PartitionSpec { shape, one_way: true }
    }

    /// Whether computing the grudge needs the current primaries (known at apply time).
    pub fn needs_primaries(&self) -> bool {
        matches!(self.shape, PartitionShape::Primaries | PartitionShape::LeaderMinority)
    }

    /// A short name for histories and logs: `majorities-ring`, `isolate-one one-way`.
    pub fn name(&self) -> String {
        let base = self.shape.name();
        if self.one_way { format!("{base} one-way") } else { base.to_string() }
    }

    /// [`PartitionSpec::grudge`] with a ChaCha8 stream seeded by `seed`.
    pub fn grudge_seeded(&self, nodes: usize, seed: u64, primaries: &[usize]) -> Result<Grudge> {
        let mut rng = <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        self.grudge(nodes, &mut rng, primaries)
    }

    /// Computes the grudge for `nodes` nodes. `primaries` is only read by
    /// [`PartitionShape::Primaries`] and [`PartitionShape::LeaderMinority`].
    pub fn grudge<R: rand::Rng + ?Sized>(
        &self,
        nodes: usize,
        rng: &mut R,
        primaries: &[usize],
    ) -> Result<Grudge> {
        let need = |min: usize, what: &str| {
            if nodes < min {
                Err(NemesisError::Invalid(format!(
                    "{what} needs at least {min} nodes, not {nodes}"
                )))
            } else {
                Ok(())
            }
        };
        let sides: Option<Vec<Vec<usize>>> = match &self.shape {
            PartitionShape::IsolateOne { node } => {
                need(2, "isolating a node")?;
                let node = match node {
                    Some(n) if *n < nodes => *n,
                    Some(n) => return Err(NemesisError::UnknownNode(format!("n{}", n + 1))),
                    None => rng.random_range(0..nodes),
                };
                Some(vec![vec![node], (0..nodes).filter(|&n| n != node).collect()])
            }
            PartitionShape::RandomHalves => {
                need(2, "random halves")?;
                let order = shuffled(nodes, rng);
                let (a, b) = order.split_at(nodes / 2);
                Some(vec![a.to_vec(), b.to_vec()])
            }
            PartitionShape::MajorityMinority { minority } => {
                need(2, "a majority/minority split")?;
                let minority: Vec<usize> = match minority {
                    Some(m) => m.clone(),
                    None => shuffled(nodes, rng)[..nodes / 2].to_vec(),
                };
                if minority.is_empty() || minority.len() * 2 >= nodes {
                    return Err(NemesisError::Invalid(format!(
                        "a minority of {nodes} nodes has 1 to {} nodes, not {}",
                        (nodes - 1) / 2,
                        minority.len()
                    )));
                }
                Some(sides_of(&minority, nodes)?)
            }
            PartitionShape::Primaries => {
                if primaries.is_empty() {
                    return Err(NemesisError::Invalid(
                        "no primaries known: the system reported no leader".into(),
                    ));
                }
                if primaries.len() >= nodes {
                    return Err(NemesisError::Invalid("every node is a primary".into()));
                }
                Some(sides_of(primaries, nodes)?)
            }
            PartitionShape::LeaderMinority => {
                if primaries.is_empty() {
                    return Err(NemesisError::Invalid(
                        "no primaries known: the system reported no leader".into(),
                    ));
                }
                let size = ((nodes.saturating_sub(1)) / 2).max(1);
                if primaries.len() > size {
                    return Err(NemesisError::Invalid(format!(
                        "{} primaries do not fit a minority of {nodes} nodes",
                        primaries.len()
                    )));
                }
                let mut minority: Vec<usize> = primaries.to_vec();
                for n in shuffled(nodes, rng) {
                    if minority.len() == size {
                        break;
                    }
                    if !minority.contains(&n) {
                        minority.push(n);
                    }
                }
                Some(sides_of(&minority, nodes)?)
            }
            PartitionShape::MajoritiesRing
            | PartitionShape::Bridge
            | PartitionShape::Explicit { .. } => None,
        };
        let grudge = match (sides, &self.shape) {
            (Some(sides), _) => {
                if self.one_way {
                    one_way_sides(&sides)
                } else {
                    Grudge::between_sides(&sides)
                }
            }
            (None, PartitionShape::MajoritiesRing) => {
                need(4, "a majorities ring")?;
                lower_to_higher(majorities_ring(nodes, rng), self.one_way)
            }
            (None, PartitionShape::Bridge) => {
                need(3, "a bridge")?;
                let order = shuffled(nodes, rng);
                // Halves around a middle node that keeps talking to both sides.
                let mid = nodes / 2;
                let (a, rest) = order.split_at(mid);
                let b = &rest[1..];
                lower_to_higher(Grudge::between_sides(&[a.to_vec(), b.to_vec()]), self.one_way)
            }
            (None, PartitionShape::Explicit { grudge }) => grudge.clone(),
            (None, _) => Grudge::default(),
        };
        grudge.check(nodes)?;
        Ok(grudge)
    }
}

/// Fisher-Yates with our own draws, so the order depends only on the RNG stream
/// (rand's `shuffle` is free to change its algorithm between versions).
fn shuffled<R: rand::Rng + ?Sized>(nodes: usize, rng: &mut R) -> Vec<usize> {
    let mut v: Vec<usize> = (0..nodes).collect();
    for i in (1..nodes).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

fn sides_of(first: &[usize], nodes: usize) -> Result<Vec<Vec<usize>>> {
    let set: BTreeSet<usize> = first.iter().copied().collect();
    if let Some(&bad) = set.iter().find(|&&n| n >= nodes) {
        return Err(NemesisError::UnknownNode(format!("n{}", bad + 1)));
    }
    Ok(vec![set.iter().copied().collect(), (0..nodes).filter(|n| !set.contains(n)).collect()])
}

fn one_way_sides(sides: &[Vec<usize>]) -> Grudge {
    let mut blocked = BTreeSet::new();
    for (i, a) in sides.iter().enumerate() {
        for b in &sides[i + 1..] {
            for &s in a {
                for &d in b {
                    blocked.insert((s, d));
                }
            }
        }
    }
    Grudge { blocked }
}

fn lower_to_higher(g: Grudge, one_way: bool) -> Grudge {
    if !one_way {
        return g;
    }
    Grudge { blocked: g.blocked.into_iter().filter(|(s, d)| s < d).collect() }
}

/// Nodes on a shuffled ring hear those within ring distance `k`, where `2k + 1`
/// is the smallest odd count that is a majority: everyone sees a majority (itself
/// and its `2k` neighbours), and no two nodes see the same one.
fn majorities_ring<R: rand::Rng + ?Sized>(nodes: usize, rng: &mut R) -> Grudge {
    let ring = shuffled(nodes, rng);
    let majority = nodes / 2 + 1;
    let k = majority / 2; // 2k + 1 >= majority
    let mut blocked = BTreeSet::new();
    for i in 0..nodes {
        for j in 0..nodes {
            let d = i.abs_diff(j);
            if d.min(nodes - d) > k {
                blocked.insert((ring[i], ring[j]));
            }
        }
    }
    Grudge { blocked }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn heard_by(g: &Grudge, n: usize, nodes: usize) -> BTreeSet<usize> {
        (0..nodes).filter(|&s| g.allows(s, n)).collect()
    }

    #[test]
    fn isolate_cuts_exactly_one_node_both_ways() {
        let spec = PartitionSpec::new(PartitionShape::IsolateOne { node: Some(2) });
        let g = spec.grudge(5, &mut rng(1), &[]).expect("grudge");
        assert_eq!(g.blocked.len(), 8);
        for other in [0, 1, 3, 4] {
            assert!(!g.allows(2, other) && !g.allows(other, 2));
        }
        assert!(g.allows(0, 1) && g.allows(4, 3));
    }

    #[test]
    fn one_way_isolation_silences_the_node_but_lets_it_hear() {
        let spec = PartitionSpec::one_way(PartitionShape::IsolateOne { node: Some(0) });
        let g = spec.grudge(3, &mut rng(1), &[]).expect("grudge");
        assert_eq!(g.blocked, BTreeSet::from([(0, 1), (0, 2)]));
        assert!(g.allows(1, 0));
    }

    #[test]
    fn halves_are_a_minority_and_a_majority_that_cannot_talk() {
        for seed in 0..20 {
            let g = PartitionSpec::new(PartitionShape::RandomHalves)
                .grudge(5, &mut rng(seed), &[])
                .expect("grudge");
            let sizes: BTreeSet<usize> = (0..5).map(|n| heard_by(&g, n, 5).len()).collect();
            assert_eq!(sizes, BTreeSet::from([2, 3]), "seed {seed}: {g:?}");
            assert_eq!(g.blocked.len(), 2 * 2 * 3);
        }
    }

    #[test]
    fn majorities_ring_gives_everyone_a_distinct_majority() {
        for nodes in [4, 5, 6, 7, 9] {
            for seed in 0..10 {
                let g = PartitionSpec::new(PartitionShape::MajoritiesRing)
                    .grudge(nodes, &mut rng(seed), &[])
                    .expect("grudge");
                let views: Vec<BTreeSet<usize>> =
                    (0..nodes).map(|n| heard_by(&g, n, nodes)).collect();
                for v in &views {
                    assert!(v.len() > nodes / 2, "{nodes} nodes: view {v:?} is no majority");
                    assert!(v.len() < nodes, "{nodes} nodes: someone sees everyone");
                }
                let distinct: BTreeSet<_> = views.iter().collect();
                assert_eq!(distinct.len(), nodes, "{nodes} nodes, seed {seed}");
                // Symmetric: a ring cut goes both ways.
                assert!(g.blocked.iter().all(|&(s, d)| g.blocked.contains(&(d, s))));
            }
        }
    }

    #[test]
    fn majorities_ring_refuses_three_nodes() {
        let r = PartitionSpec::new(PartitionShape::MajoritiesRing).grudge(3, &mut rng(0), &[]);
        assert!(r.is_err());
    }

    #[test]
    fn bridge_node_hears_everyone_and_halves_do_not_meet() {
        for seed in 0..10 {
            let g = PartitionSpec::new(PartitionShape::Bridge)
                .grudge(5, &mut rng(seed), &[])
                .expect("grudge");
            let views: Vec<usize> = (0..5).map(|n| heard_by(&g, n, 5).len()).collect();
            assert_eq!(views.iter().filter(|&&v| v == 5).count(), 1, "{views:?}");
            assert_eq!(views.iter().filter(|&&v| v == 3).count(), 4, "{views:?}");
        }
    }

    #[test]
    fn primaries_are_cut_from_the_rest() {
        let g = PartitionSpec::new(PartitionShape::Primaries)
            .grudge(5, &mut rng(0), &[3])
            .expect("grudge");
        assert_eq!(heard_by(&g, 3, 5), BTreeSet::from([3]));
        assert!(PartitionSpec::new(PartitionShape::Primaries).grudge(5, &mut rng(0), &[]).is_err());
    }

    #[test]
    fn a_leader_minority_holds_the_leader_and_stays_a_minority() {
        for seed in 0..10 {
            let g = PartitionSpec::new(PartitionShape::LeaderMinority)
                .grudge(5, &mut rng(seed), &[2])
                .expect("grudge");
            let side = heard_by(&g, 2, 5);
            assert_eq!(side.len(), 2, "{side:?}");
            assert!(side.contains(&2));
        }
        let three = PartitionSpec::new(PartitionShape::LeaderMinority)
            .grudge(3, &mut rng(0), &[1])
            .expect("grudge");
        assert_eq!(heard_by(&three, 1, 3), BTreeSet::from([1]), "3 nodes: the leader alone");
        let none = PartitionSpec::new(PartitionShape::LeaderMinority).grudge(5, &mut rng(0), &[]);
        assert!(none.is_err());
    }

    #[test]
    fn majority_minority_checks_the_minority() {
        let ok =
            PartitionSpec::new(PartitionShape::MajorityMinority { minority: Some(vec![0, 4]) })
                .grudge(5, &mut rng(0), &[])
                .expect("grudge");
        assert_eq!(heard_by(&ok, 0, 5), BTreeSet::from([0, 4]));
        let too_big =
            PartitionSpec::new(PartitionShape::MajorityMinority { minority: Some(vec![0, 1, 2]) })
                .grudge(5, &mut rng(0), &[]);
        assert!(too_big.is_err());
    }

    #[test]
    fn explicit_grudges_are_checked() {
        let g = Grudge { blocked: BTreeSet::from([(0, 7)]) };
        let r =
            PartitionSpec::new(PartitionShape::Explicit { grudge: g }).grudge(5, &mut rng(0), &[]);
        assert!(r.is_err());
    }

    #[test]
    fn same_seed_same_grudge() {
        let spec = PartitionSpec::new(PartitionShape::MajoritiesRing);
        let a = spec.grudge(7, &mut rng(42), &[]).expect("a");
        let b = spec.grudge(7, &mut rng(42), &[]).expect("b");
        assert_eq!(a, b);
    }

    #[test]
    fn shape_names_round_trip_and_aliases_resolve() {
        for name in PartitionShape::names() {
            assert_eq!(PartitionShape::by_name(name).map(|s| s.name()), Ok(name));
        }
        assert_eq!(PartitionShape::by_name("ring"), Ok(PartitionShape::MajoritiesRing));
        let err = PartitionShape::by_name("square").expect_err("unknown");
        assert!(err.contains("majorities-ring") && err.contains("square"), "{err}");
    }

    #[test]
    fn tcp_matrix_needs_both_directions() {
        let g = Grudge { blocked: BTreeSet::from([(0, 1)]) };
        assert!(!g.matrix(2)[0][1] && g.matrix(2)[1][0]);
        assert!(!g.tcp_matrix(2)[1][0]);
    }
}
