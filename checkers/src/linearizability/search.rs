//! The search for one partition: Wing & Gong's algorithm with Lowe's cache, over a
//! doubly linked list of call/return events (Porcupine's lift/unlift).
//!
//! The loop never allocates except when the cache or the stack double. It checks the
//! clock, the stop flag and nothing else every [`CHECK_EVERY`] steps, so a time limit
//! is honoured within a fraction of a millisecond.

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

pub fn search<M: Model>(model: &M, part: &Compiled<M>, limits: &Limits<'_>) -> Searched<M::State> {
    let n = part.len();
    let mut events = Events::new(n, &part.events);
    // rank of each node in history order, to tell which blocking return is furthest
    let mut rank = vec![0u32; 2 * n + 1];
    for (r, &node) in part.events.iter().enumerate() {
        rank[node as usize] = r as u32;
    }
    let words = n.div_ceil(64).max(1);
    let mut bits = vec![0u64; words];
    let zobrist = zobrist_keys(n);
    let Ok(mut cache) = Cache::<M::State>::new(words, limits.memory, limits.deadline) else {
        return Searched {
            found: Found::Unknown(GaveUp::MemoryLimit),
            steps: 0,
            cache_entries: 0,
            cache_bytes: 0,
        };
    };
    let mut stack: Vec<(u32, M::State)> = Vec::with_capacity(n);
    let mut state = part.init;
    let mut hash = 0u64;
    let mut remaining = part.returns;
    let mut entry = events.next[events.head as usize];
    let mut steps: u64 = 0;
    let mut best: Option<(u32, Blocked<M::State>)> = None;

    let done = |found, steps, cache: &Cache<M::State>| Searched {
        found,
        steps,
        cache_entries: cache.len() as u64,
        cache_bytes: cache.bytes() as u64,
    };
    let is_set = |bits: &[u64], i: u32| bits[(i >> 6) as usize] >> (i & 63) & 1 == 1;

    loop {
        if remaining == 0 {
            // every ok op is placed; the unknown ones left may simply never happen
            return done(Found::Valid, steps, &cache);
        }
        steps += 1;
        if steps & (CHECK_EVERY - 1) == 0 {
            if limits.stop.load(Ordering::Relaxed) {
                return done(Found::Unknown(GaveUp::Stopped), steps, &cache);
            }
            if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                return done(Found::Unknown(GaveUp::TimeLimit), steps, &cache);
            }
        }
        // With a return left in the list, a scan from the head always meets it
        // before the end, so `entry` is a real node here.
        let node = entry;
        let i = node >> 1;
        if node & 1 == 0 {
            let twin = part.twin_prev[i as usize];
            if twin != NONE && !is_set(&bits, twin) {
                // its interchangeable twin goes first (see compile.rs)
                entry = events.next[node as usize];
                continue;
            }
            if let Some(next_state) = model.step(&state, &part.ops[i as usize]) {
                let next_hash = hash ^ zobrist[i as usize];
                bits[(i >> 6) as usize] |= 1 << (i & 63);
                match cache.insert(next_hash, &next_state, &bits) {
                    Ok(true) => {
                        stack.push((i, state));
                        state = next_state;
                        hash = next_hash;
                        events.unlink(2 * i);
                        if part.has_return[i as usize] {
                            events.unlink(2 * i + 1);
                            remaining -= 1;
                        }
                        entry = events.next[events.head as usize];
                        continue;
                    }
                    Ok(false) => {}
                    Err(Refused::Memory) => {
                        return done(Found::Unknown(GaveUp::MemoryLimit), steps, &cache);
                    }
                    Err(Refused::Time) => {
                        return done(Found::Unknown(GaveUp::TimeLimit), steps, &cache);
                    }
                }
                bits[(i >> 6) as usize] &= !(1 << (i & 63));
            }
            entry = events.next[node as usize];
        } else {
            note_block(&mut best, rank[node as usize], i, &state, &stack);
            let Some((j, previous)) = stack.pop() else {
                let (_, blocked) = best.expect("a block was just noted");
                return done(Found::Invalid(blocked), steps, &cache);
            };
            state = previous;
            hash ^= zobrist[j as usize];
            bits[(j >> 6) as usize] &= !(1 << (j & 63));
            if part.has_return[j as usize] {
                events.relink(2 * j + 1);
                remaining += 1;
            }
            events.relink(2 * j);
            entry = events.next[2 * j as usize];
        }
    }
}

/// Remembers the furthest return the search could not pass, the states it stood
/// in there, and one linearization that got that far.
#[inline]
fn note_block<S: Copy + Eq>(
    best: &mut Option<(u32, Blocked<S>)>,
    rank: u32,
    op: u32,
    state: &S,
    stack: &[(u32, S)],
) {
    match best {
        Some((r, b)) if *r == rank => {
            if !b.states.iter().any(|(s, _)| s == state) {
                if b.states.len() < MAX_STATES {
                    b.states.push((*state, stack.iter().map(|&(j, _)| j).collect()));
                } else {
                    b.more_states = true;
                }
            }
        }
        Some((r, _)) if *r > rank => {}
        _ => {
            let prefix: Vec<u32> = stack.iter().map(|&(j, _)| j).collect();
            *best = Some((
                rank,
                Blocked { op, states: vec![(*state, prefix.clone())], prefix, more_states: false },
            ))
        }
    }
}
