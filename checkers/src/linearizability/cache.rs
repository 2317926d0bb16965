//! The set of (linearized operations, model state) pairs the search has explored.
//!
//! Open addressing over `u32` slots; each entry stores its full hash and state, and
//! its linearized set lives in one flat arena, so an insert allocates only when a
//! vector doubles, and equality is exact (the hash only finds candidates). The hash
//! of a set is Zobrist's (the XOR of a random word per member), maintained
//! incrementally by the search, so computing a key is O(1).
//!
//! A set is stored as its window, not as a bitset over the whole history: every op
//! below `low` (the oldest op not linearized, in call order) is in the set, so only
//! the words from `low`'s word to the last word with a member are kept. On one long
//! object the window spans the operations still concurrent, not the history, so an
//! entry costs tens of bytes whether the history has a thousand operations or ten
//! million. Two sets are equal exactly when their `low` and their windows are.
//!
//! Memory is bounded: before any vector grows, the cache takes the bytes of the new
//! allocation from a [`Budget`] shared by all partitions searched at once (and gives
//! back the old one after), and refuses ([`Refused::Memory`]) when the budget is
//! spent. Rehashing a big table takes long, so it watches the deadline too.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Why an insert could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The cache would exceed its memory budget.
    Memory,
    /// The deadline passed while the table was being enlarged.
    Time,
}

/// Bytes the caches of one check may hold together.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { limit, used: AtomicUsize::new(0) }
    }

    fn take(&self, bytes: usize) -> Result<(), Refused> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Refused::Memory);
        }
        Ok(())
    }

    fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// One explored (set, state): the hash of both, the state, and where the set's
/// window lies in the arena.
#[derive(Clone, Copy)]
struct Entry<S> {
    hash: u64,
    at: u32,
    low: u32,
    len: u32,
    state: S,
}

pub struct Cache<'b, S> {
    /// Entry index + 1; 0 = empty.
    slots: Vec<u32>,
    keys: Vec<Entry<S>>,
    arena: Vec<u64>,
    budget: &'b Budget,
    /// Bytes taken from the budget and not yet given back.
    taken: usize,
    deadline: Option<Instant>,
}

impl<S> Drop for Cache<'_, S> {
    fn drop(&mut self) {
        self.budget.give(self.taken);
    }
}

impl<'b, S: Copy + Eq + Hash> Cache<'b, S> {
    const INITIAL_SLOTS: usize = 1024;

    pub fn new(budget: &'b Budget, deadline: Option<Instant>) -> Result<Cache<'b, S>, Refused> {
        let taken = Self::INITIAL_SLOTS * 4;
        budget.take(taken)?;
        Ok(Cache {
            slots: vec![0; Self::INITIAL_SLOTS],
            keys: Vec::new(),
            arena: Vec::new(),
            budget,
            taken,
            deadline,
        })
    }

    /// Takes `new` bytes before an allocation that replaces one of `old` bytes.
    fn grow_budget(&mut self, new: usize) -> Result<(), Refused> {
        self.budget.take(new)?;
        self.taken += new;
        Ok(())
    }

    fn shrink_budget(&mut self, old: usize) {
        self.budget.give(old);
        self.taken -= old;
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes held by the cache's vectors.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.keys.capacity() * std::mem::size_of::<Entry<S>>()
            + self.arena.capacity() * 8
    }

    /// Inserts `(set, state)`, the set given by its `low` and `window` (see the
    /// module docs) and hashed to `zobrist`; `Ok(true)` when it was new, `Ok(false)`
    /// when already present.
    #[inline]
    pub fn insert(
        &mut self,
        zobrist: u64,
        state: &S,
        low: u32,
        window: &[u64],
    ) -> Result<bool, Refused> {
        let hash = zobrist ^ hash_state(state);
        let mask = self.slots.len() - 1;
        let mut at = spread(hash) & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            let e = &self.keys[(slot - 1) as usize];
            if e.hash == hash
                && e.state == *state
                && e.low == low
                && e.len as usize == window.len()
                && self.arena[e.at as usize..e.at as usize + window.len()] == *window
            {
                return Ok(false);
            }
            at = (at + 1) & mask;
        }
        self.reserve(window.len())?;
        if (self.keys.len() + 1) * 2 > self.slots.len() {
            self.grow_slots()?;
            // the table changed: find the free slot again
            let mask = self.slots.len() - 1;
            at = spread(hash) & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
        }
        let start = self.arena.len();
        // u32 offsets address 32 GB of windows, far past any memory limit in use
        let (Ok(offset), Ok(len)) = (u32::try_from(start), u32::try_from(window.len())) else {
            return Err(Refused::Memory);
        };
        self.keys.push(Entry { hash, at: offset, low, len, state: *state });
        self.arena.extend_from_slice(window);
        self.slots[at] = self.keys.len() as u32;
        Ok(true)
    }

    /// Doubles `keys` and `arena` by hand when full, within the budget. While a
    /// vector moves, old and new allocations both exist: both are counted.
    fn reserve(&mut self, words: usize) -> Result<(), Refused> {
        let key_size = std::mem::size_of::<Entry<S>>();
        if self.keys.len() == self.keys.capacity() {
            let (old, add) = (self.keys.capacity(), self.keys.capacity().max(256));
            self.grow_budget((old + add) * key_size)?;
            self.keys.reserve_exact(add);
            self.shrink_budget(old * key_size);
        }
        if self.arena.len() + words > self.arena.capacity() {
            let (old, add) = (self.arena.capacity(), self.arena.capacity().max(256 * words.max(1)));
            self.grow_budget((old + add) * 8)?;
            self.arena.reserve_exact(add);
            self.shrink_budget(old * 8);
        }
        Ok(())
    }

    fn grow_slots(&mut self) -> Result<(), Refused> {
        let new_len = self.slots.len() * 2;
        self.grow_budget(new_len * 4)?;
        let old = self.slots.len() * 4;
        let mut slots = vec![0u32; new_len];
        let mask = new_len - 1;
        for (e, Entry { hash: h, .. }) in self.keys.iter().enumerate() {
            // millions of entries take a while: keep the time limit honest
            if e & 0xf_ffff == 0xf_ffff && self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.budget.give(new_len * 4);
                self.taken -= new_len * 4;
                return Err(Refused::Time);
            }
            let mut at = spread(*h) & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = e as u32 + 1;
        }
        self.slots = slots;
        self.shrink_budget(old);
        Ok(())
    }
}

#[inline]
fn spread(h: u64) -> usize {
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) as usize >> 7
}

/// A fast, non-cryptographic hash of a model state.
#[inline]
pub fn hash_state<S: Hash>(state: &S) -> u64 {
    let mut h = WordHasher(0);
    state.hash(&mut h);
    h.finish()
}

/// Multiply-rotate hashing one machine word at a time; states are a few words long.
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// Deterministic random words for Zobrist hashing (SplitMix64).
pub fn zobrist_keys(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_membership_and_growth() {
        let budget = Budget::new(usize::MAX);
        let mut c: Cache<u32> = Cache::new(&budget, None).unwrap();
        for i in 0..5000u64 {
            // same hash for every entry: equality must come from state and set
            assert_eq!(c.insert(7, &(i as u32 % 3), 5, &[i, 0]), Ok(true));
        }
        for i in 0..5000u64 {
            assert_eq!(c.insert(7, &(i as u32 % 3), 5, &[i, 0]), Ok(false));
            // a different state with the same set is a different entry
            assert_eq!(c.insert(7, &(i as u32 % 3 + 1), 5, &[i, 0]), Ok(true));
        }
        // the same window words above a different prefix is a different set, and so
        // is a window of another length
        assert_eq!(c.insert(7, &0, 6, &[0, 0]), Ok(true));
        assert_eq!(c.insert(7, &0, 5, &[0]), Ok(true));
        assert_eq!(c.insert(7, &0, 5, &[]), Ok(true));
        assert_eq!(c.insert(7, &0, 5, &[]), Ok(false));
    }

    #[test]
    fn budget_refuses_growth_and_is_given_back() {
        let budget = Budget::new(64 * 1024);
        let mut c: Cache<u32> = Cache::new(&budget, None).unwrap();
        let mut refused = false;
        for i in 0..100_000u64 {
            match c.insert(i, &0, 0, &[i]) {
                Ok(_) => {}
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused);
        assert!(c.bytes() <= 64 * 1024, "{}", c.bytes());
        assert_eq!(budget.used.load(Ordering::Relaxed), c.taken);
        drop(c);
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
    }
}
