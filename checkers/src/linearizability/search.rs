//! The search for one partition: Wing & Gong's algorithm with Lowe's cache, over a
//! doubly linked list of call/return events (Porcupine's lift/unlift).
//!
//! The loop never allocates except when the cache or the stack double. It checks the
//! clock, the stop flag and nothing else every [`CHECK_EVERY`] steps, so a time limit
//! is honoured within a fraction of a millisecond.
//!
//! The linearized set is a [`Linearized`]: a bitset plus the oldest op not in it
//! (`low`) and the last word with a member, so the cache can store just the window
//! between them (see `cache.rs`): memory per explored state follows the operations
//! still concurrent, not the length of the history.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::cache::{Budget, Cache, Refused, zobrist_keys};
use super::compile::{Compiled, NONE};
use super::model::Model;

const NIL: u32 = u32::MAX;
/// Steps between looks at the clock (a power of two; a step is tens of nanoseconds).
const CHECK_EVERY: u64 = 1024;
/// States kept for the explanation of a failure.
pub const MAX_STATES: usize = 8;

/// Why a search gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    TimeLimit,
    MemoryLimit,
    /// Another partition was found invalid.
    Stopped,
}

/// Where a failed search got stuck: the return event it could never pass.
#[derive(Debug, Clone)]
pub struct Blocked<S> {
    /// The op whose return could not be reached with it linearized.
    pub op: u32,
    /// A linearization (op ids, in order) of everything before that return.
    pub prefix: Vec<u32>,
    /// Distinct states in which the search stood at that return (up to MAX_STATES),
    /// each with the linearization (op ids) that led to it.
    pub states: Vec<(S, Vec<u32>)>,
    /// More states than MAX_STATES were seen.
    pub more_states: bool,
}

#[derive(Debug, Clone)]
pub enum Found<S> {
    Valid,
    Invalid(Blocked<S>),
    Unknown(GaveUp),
}

#[derive(Debug, Clone)]
pub struct Searched<S> {
    pub found: Found<S>,
    pub steps: u64,
    pub cache_entries: u64,
    pub cache_bytes: u64,
}

/// When to give up.
pub struct Limits<'a> {
    pub deadline: Option<Instant>,
    /// Cache memory, shared by the partitions searched at the same time.
    pub memory: &'a Budget,
    pub stop: &'a AtomicBool,
}

/// The event list: `next`/`prev` over nodes `2i` (call of op i), `2i + 1` (return)
/// and a head sentinel.
struct Events {
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
}

impl Events {
    fn new(n: usize, order: &[u32]) -> Events {
        let head = 2 * n as u32;
        let mut next = vec![NIL; 2 * n + 1];
        let mut prev = vec![NIL; 2 * n + 1];
        let mut last = head;
        for &node in order {
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        Events { next, prev, head }
    }

    #[inline]
    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Undoes `unlink(node)`; links must be restored in reverse order of removal.
    #[inline]
    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        if n != NIL {
            self.prev[n as usize] = node;
        }
    }
}

/// The set of linearized ops (ids are call order): a bitset over all of them, with
/// `low`, the smallest id not in the set (every id below it is in), and `top`, one
/// past the last word with a member. The cache key is `(low, bits[low / 64..top])`,
/// which is canonical: equal sets give equal keys.
struct Linearized {
    bits: Vec<u64>,
    n: u32,
    low: u32,
    top: usize,
}

impl Linearized {
    fn new(n: usize) -> Linearized {
        Linearized { bits: vec![0; n.div_ceil(64).max(1)], n: n as u32, low: 0, top: 0 }
    }

    #[inline]
    fn contains(&self, i: u32) -> bool {
        self.bits[(i >> 6) as usize] >> (i & 63) & 1 == 1
    }

    #[inline]
    fn insert(&mut self, i: u32) {
        let w = (i >> 6) as usize;
        self.bits[w] |= 1 << (i & 63);
        self.top = self.top.max(w + 1);
        if i == self.low {
            self.low = self.next_absent(i);
        }
    }

    #[inline]
    fn remove(&mut self, i: u32) {
        let w = (i >> 6) as usize;
        self.bits[w] &= !(1 << (i & 63));
        if i < self.low {
            self.low = i;
        }
        while self.top > 0 && self.bits[self.top - 1] == 0 {
            self.top -= 1;
        }
    }

    /// The smallest id at or after `from` that is not in the set (`n` if none).
    #[inline]
    fn next_absent(&self, from: u32) -> u32 {
        let mut w = (from >> 6) as usize;
        // treat the bits below `from` in its word as present
        let mut word = self.bits[w] | ((1u64 << (from & 63)) - 1);
        loop {
            if word != u64::MAX {
                return ((w as u32) << 6 | (!word).trailing_zeros()).min(self.n);
            }
            w += 1;
            match self.bits.get(w) {
                Some(&x) => word = x,
                None => return self.n,
            }
        }
    }

    /// The cache's view: `low` and the words from `low`'s word to `top`.
    #[inline]
    fn window(&self) -> (u32, &[u64]) {
        let start = ((self.low >> 6) as usize).min(self.top);
        (self.low, &self.bits[start..self.top])
    }
}

/// Where the search resumes at a node it comes back to.
#[derive(Clone, Copy)]
enum Resume {
    /// A node reached for the first time: try the urgent op first.
    Fresh,
    /// Back from a child that linearized this op.
    After(u32),
    /// Back from a forced child (see [`FORCED`]): nothing else to try here.
    Exhausted,
}

/// Marks a stack entry whose op was forced: a read-only op ([`Model::is_read_only`])
/// that is legal now may always be placed now, so the node it was placed at needs
/// no other child. Placed later instead, in a completion that works, it could be
/// moved here: its call is before now (it is a candidate) and its return after (it
/// is not placed), so real time allows it; here it changes nothing; and taking it
/// out of its later place changes no later state, because a read-only op changes
/// no state anywhere.
const FORCED: u32 = 1 << 31;

pub fn search<M: Model>(model: &M, part: &Compiled<M>, limits: &Limits<'_>) -> Searched<M::State> {
    let n = part.len();
    let mut events = Events::new(n, &part.events);
    // rank of each node in history order, to tell which blocking return is furthest
    // and to order candidates by how soon they must return
    let mut rank = vec![0u32; 2 * n + 1];
    for (r, &node) in part.events.iter().enumerate() {
        rank[node as usize] = r as u32;
    }
    let mut set = Linearized::new(n);
    let zobrist = zobrist_keys(n);
    let cache = Cache::<M::State>::new(limits.memory, limits.deadline);
    // op ids share their u32 with the FORCED mark: 2^31 ops per partition at most
    let Ok(mut cache) =
        cache.and_then(|c| if n < FORCED as usize { Ok(c) } else { Err(Refused::Memory) })
    else {
        return Searched {
            found: Found::Unknown(GaveUp::MemoryLimit),
            steps: 0,
            cache_entries: 0,
            cache_bytes: 0,
        };
    };
    let mut stack: Vec<(u32, M::State)> = Vec::with_capacity(n.min(1 << 20));
    let mut state = part.init;
    let mut hash = 0u64;
    let mut remaining = part.returns;
    let mut steps: u64 = 0;
    let mut best: Option<(u32, Blocked<M::State>)> = None;
    let mut low_water = 0usize;
    // the candidates of the current node: every call before the first return
    let mut cands: Vec<u32> = Vec::new();
    let mut resume = Resume::Fresh;

    let done = |found, steps, cache: &Cache<M::State>| Searched {
        found,
        steps,
        cache_entries: cache.len() as u64,
        cache_bytes: cache.bytes() as u64,
    };

    'node: loop {
        if remaining == 0 {
            // every ok op is placed; the unknown ones left may simply never happen
            return done(Found::Valid, steps, &cache);
        }
        // With a return left in the list, a scan from the head always meets it.
        cands.clear();
        let mut node = events.next[events.head as usize];
        while node & 1 == 0 {
            cands.push(node >> 1);
            node = events.next[node as usize];
        }
        let blocking = node;
        let urgent = blocking >> 1;
        // Which candidates to try, in order. All of them, each once (a repeat meets
        // the cache), so the order changes only how soon a linearization is found:
        // first the urgent op, whose return comes first (it must be placed before
        // that return), then the others in call order. On a lock, the urgent
        // acquire is the one that really got the lock; call order alone tries every
        // waiting acquire first.
        let from = match resume {
            Resume::Fresh => None,
            Resume::After(j) => Some(j),
            Resume::Exhausted => Some(u32::MAX),
        };
        let mut order_ready = false;
        let mut at = 0usize;
        // Tried before the rest: a read-only op that is legal now (forced, see
        // FORCED), else the urgent op.
        let mut first = urgent;
        if from.is_none() {
            at = usize::MAX;
            if let Some(&r) = cands.iter().find(|&&c| {
                let op = &part.ops[c as usize];
                model.is_read_only(op) && model.step(&state, op).is_some()
            }) {
                first = r;
            }
        }
        loop {
            let i = if at == usize::MAX {
                at = 0;
                first
            } else {
                if !order_ready {
                    order_ready = true;
                    if let Some(j) = from {
                        at = if j == first {
                            0
                        } else {
                            cands.iter().position(|&c| c == j).map_or(cands.len(), |p| p + 1)
                        };
                    }
                }
                let Some(&c) = cands.get(at) else { break };
                at += 1;
                if c == first {
                    continue; // tried first
                }
                c
            };
            steps += 1;
            if steps & (CHECK_EVERY - 1) == 0 {
                if limits.stop.load(Ordering::Relaxed) {
                    return done(Found::Unknown(GaveUp::Stopped), steps, &cache);
                }
                if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                    return done(Found::Unknown(GaveUp::TimeLimit), steps, &cache);
                }
            }
            let twin = part.twin_prev[i as usize];
            if twin != NONE && !set.contains(twin) {
                // its interchangeable twin goes first (see compile.rs)
                continue;
            }
            let Some(next_state) = model.step(&state, &part.ops[i as usize]) else { continue };
            let forced = model.is_read_only(&part.ops[i as usize]);
            let next_hash = hash ^ zobrist[i as usize];
            set.insert(i);
            let (low, window) = set.window();
            match cache.insert(next_hash, &next_state, low, window) {
                Ok(true) => {
                    stack.push((if forced { i | FORCED } else { i }, state));
                    state = next_state;
                    hash = next_hash;
                    events.unlink(2 * i);
                    if part.has_return[i as usize] {
                        events.unlink(2 * i + 1);
                        remaining -= 1;
                    }
                    resume = Resume::Fresh;
                    continue 'node;
                }
                Ok(false) => {
                    set.remove(i);
                    if forced {
                        // the only child this node needs was explored and failed
                        break;
                    }
                }
                Err(Refused::Memory) => {
                    return done(Found::Unknown(GaveUp::MemoryLimit), steps, &cache);
                }
                Err(Refused::Time) => {
                    return done(Found::Unknown(GaveUp::TimeLimit), steps, &cache);
                }
            }
        }
        // every candidate tried: the blocking return cannot be passed from here
        note_block(&mut best, &mut low_water, rank[blocking as usize], urgent, &state, &stack);
        let Some((top, previous)) = stack.pop() else {
            let (_, blocked) = best.expect("a block was just noted");
            return done(Found::Invalid(finish_block(blocked)), steps, &cache);
        };
        low_water = low_water.min(stack.len());
        let j = top & !FORCED;
        state = previous;
        hash ^= zobrist[j as usize];
        set.remove(j);
        if part.has_return[j as usize] {
            events.relink(2 * j + 1);
            remaining += 1;
        }
        events.relink(2 * j);
        resume = if top & FORCED != 0 { Resume::Exhausted } else { Resume::After(j) };
    }
}

/// Remembers the furthest return the search could not pass, the states it stood
/// in there, and one linearization that got that far.
///
/// A long valid search reaches a new furthest return again and again, so the
/// linearization is not copied whole each time: `low_water` is the lowest the stack
/// has been since the last copy, and only the part above it is replaced (the part
/// below is still the same). The first state's own run is that linearization and is
/// filled in once, by [`finish_block`].
#[inline]
fn note_block<S: Copy + Eq>(
    best: &mut Option<(u32, Blocked<S>)>,
    low_water: &mut usize,
    rank: u32,
    op: u32,
    state: &S,
    stack: &[(u32, S)],
) {
    match best {
        Some((r, b)) if *r == rank => {
            if !b.states.iter().any(|(s, _)| s == state) {
                if b.states.len() < MAX_STATES {
                    b.states.push((*state, stack.iter().map(|&(j, _)| j & !FORCED).collect()));
                } else {
                    b.more_states = true;
                }
            }
        }
        Some((r, _)) if *r > rank => {}
        _ => {
            let mut prefix = best.take().map(|(_, b)| b.prefix).unwrap_or_default();
            let keep = (*low_water).min(prefix.len()).min(stack.len());
            prefix.truncate(keep);
            prefix.extend(stack[keep..].iter().map(|&(j, _)| j & !FORCED));
            *low_water = stack.len();
            *best = Some((
                rank,
                Blocked { op, states: vec![(*state, Vec::new())], prefix, more_states: false },
            ))
        }
    }
}

/// The block to report: the first state's run is the linearization itself.
fn finish_block<S>(mut blocked: Blocked<S>) -> Blocked<S> {
    if let Some(first) = blocked.states.first_mut() {
        first.1 = blocked.prefix.clone();
    }
    blocked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window key is canonical: any way of reaching a set gives the same key,
    /// and different sets give different keys.
    #[test]
    fn window_keys_are_canonical() {
        let n = 300;
        let mut x: u64 = 12345;
        let mut rand = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let key = |s: &Linearized| {
            let (low, w) = s.window();
            (low, w.to_vec())
        };
        let mut seen: std::collections::HashMap<(u32, Vec<u64>), Vec<bool>> = Default::default();
        for _ in 0..200 {
            let mut set = Linearized::new(n);
            let mut truth = vec![false; n];
            let mut stack = Vec::new();
            for _ in 0..2000 {
                if rand(3) > 0 || stack.is_empty() {
                    // ids cluster near the front, as in a search
                    let i = (rand(40) + rand(n as u64 / 2)) as u32 % n as u32;
                    if !truth[i as usize] {
                        set.insert(i);
                        truth[i as usize] = true;
                        stack.push(i);
                    }
                } else {
                    let j = stack.pop().unwrap();
                    set.remove(j);
                    truth[j as usize] = false;
                }
                let low = truth.iter().position(|&b| !b).unwrap_or(n) as u32;
                assert_eq!(set.window().0, low);
                for i in 0..n as u32 {
                    assert_eq!(set.contains(i), truth[i as usize]);
                }
                let k = key(&set);
                if let Some(t) = seen.get(&k) {
                    assert_eq!(t, &truth, "two sets share a key");
                } else {
                    seen.insert(k, truth.clone());
                }
            }
        }
        // the full set and the empty set
        let mut set = Linearized::new(n);
        assert_eq!(key(&set), (0, vec![]));
        for i in 0..n as u32 {
            set.insert(i);
        }
        assert_eq!(set.window().0, n as u32);
    }
}
