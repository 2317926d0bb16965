//! Network faults on a lab, as the lab currently holds them: the partition (a
//! [`Grudge`]), packet loss per link, and delays per link. Each setter replaces
//! one family whole and applies it atomically; [`Lab::heal_network`] clears all.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::control::Network;
use crate::error::{NemesisError, Result};
use crate::lab::Lab;
use crate::latency::{Delayer, LinkDelay};
use crate::netfilter;
use crate::partition::Grudge;
use crate::probe::{self, Verification};

/// The network faults currently applied to a lab.
#[derive(Default)]
pub struct NetFaults {
    pub(crate) grudge: Grudge,
    /// `(client, node)` pairs cut both ways.
    pub(crate) client_cuts: BTreeSet<(usize, usize)>,
    pub(crate) loss: BTreeMap<(usize, usize), u8>,
    pub(crate) delays: BTreeMap<(usize, usize), (LinkDelay, Delayer)>,
}

impl NetFaults {
    pub(crate) fn stop_delayers(&mut self) {
        for (_, (_, mut d)) in std::mem::take(&mut self.delays) {
            let _ = d.stop();
        }
    }

    /// The longest delay (plus jitter) on any link, to size probe windows.
    fn max_delay(&self) -> Duration {
        let ms = self.delays.values().map(|(d, _)| d.delay_ms + d.jitter_ms).max().unwrap_or(0);
        Duration::from_millis(u64::from(ms))
    }
}

impl Lab {
    fn check_links<'a>(&self, links: impl IntoIterator<Item = &'a (usize, usize)>) -> Result<()> {
        let n = self.node_count();
        for &(s, d) in links {
            if s >= n || d >= n || s == d {
                return Err(NemesisError::Invalid(format!(
                    "link n{} -> n{} in a lab of {n} nodes",
                    s + 1,
                    d + 1
                )));
            }
        }
        Ok(())
    }

    /// Makes the partition exactly `grudge` (an empty grudge heals it), in one
    /// atomic nftables transaction.
    pub fn set_partition(&self, grudge: &Grudge) -> Result<()> {
        self.check_links(&grudge.blocked)?;
        let mut net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
        let script = netfilter::partition_script_with_clients(grudge, &net.client_cuts);
        netfilter::apply(&self.switch_ns(), &script)?;
        net.grudge = grudge.clone();
        Ok(())
    }

    /// Cuts client namespaces from nodes: each `(client, node)` pair, both ways
    /// (replacing earlier client cuts; the node partition stays as it is).
    pub fn set_client_cuts(&self, cuts: &BTreeSet<(usize, usize)>) -> Result<()> {
        let (nodes, clients) = (self.node_count(), self.client_count());
        if let Some(&(c, n)) = cuts.iter().find(|&&(c, n)| c >= clients || n >= nodes) {
            return Err(NemesisError::Invalid(format!(
                "client cut c{} / n{} in a lab of {clients} clients and {nodes} nodes",
                c + 1,
                n + 1
            )));
        }
        let mut net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
        let script = netfilter::partition_script_with_clients(&net.grudge, cuts);
        netfilter::apply(&self.switch_ns(), &script)?;
        net.client_cuts = cuts.clone();
        Ok(())
    }

    /// The partition currently applied.
    pub fn partition(&self) -> Grudge {
        self.inner.net.lock().unwrap_or_else(|p| p.into_inner()).grudge.clone()
    }

    /// Makes packet loss exactly `loss` (directed link -> percent, 1..=100).
    pub fn set_loss(&self, loss: &BTreeMap<(usize, usize), u8>) -> Result<()> {
        self.check_links(loss.keys())?;
        if let Some((&(s, d), p)) = loss.iter().find(|(_, p)| **p == 0 || **p > 100) {
            return Err(NemesisError::Invalid(format!(
                "loss of {p} % on n{} -> n{} (1 to 100)",
                s + 1,
                d + 1
            )));
        }
        let mut net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
        netfilter::apply(&self.switch_ns(), &netfilter::loss_script(loss))?;
        net.loss = loss.clone();
        Ok(())
    }

    /// Delays packets on each given directed link (replacing earlier delays).
    /// `seed` drives the jitter draws.
    pub fn set_delays(
        &self,
        delays: &BTreeMap<(usize, usize), LinkDelay>,
        seed: u64,
    ) -> Result<()> {
        self.check_links(delays.keys())?;
        crate::prereq::check(crate::prereq::LATENCY_TOOLS)?;
        let mut net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
        net.stop_delayers();
        for (i, (&(src, dst), &delay)) in delays.iter().enumerate() {
            let d = Delayer::start(&self.node_ns(dst)?, src, delay, seed.wrapping_add(i as u64))?;
            net.delays.insert((src, dst), (delay, d));
        }
        Ok(())
    }

    /// Removes every network fault (partition, client cuts, loss, delays) at once.
    pub fn heal_network(&self) -> Result<()> {
        let mut net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
        net.stop_delayers();
        let script = format!(
            "{}{}",
            netfilter::partition_script(&Grudge::default()),
            netfilter::loss_script(&BTreeMap::new())
        );
        netfilter::apply(&self.switch_ns(), &script)?;
        net.grudge = Grudge::default();
        net.client_cuts.clear();
        net.loss.clear();
        Ok(())
    }

    /// The partition as the kernel holds it (works for an attached lab too).
    pub fn current_partition_from_rules(&self) -> Result<Grudge> {
        netfilter::read_partition(&self.switch_ns())
    }

    /// Probes every directed link and compares with the applied partition.
    pub fn verify_partition(&self) -> Result<Verification> {
        let (grudge, wait) = {
            let net = self.inner.net.lock().unwrap_or_else(|p| p.into_inner());
            (net.grudge.clone(), net.max_delay() + Duration::from_millis(100))
        };
        let measured = probe::measure(self, wait)?;
        Ok(probe::compare(&grudge, &measured))
    }
}

/// The nemesis's network control: the lab's own methods above.
impl Network for Lab {
    fn set_partition(&self, grudge: &Grudge) -> Result<()> {
        Lab::set_partition(self, grudge)
    }

    fn set_loss(&self, loss: &BTreeMap<(usize, usize), u8>) -> Result<()> {
        Lab::set_loss(self, loss)
    }

    fn set_delays(&self, delays: &BTreeMap<(usize, usize), LinkDelay>, seed: u64) -> Result<()> {
        Lab::set_delays(self, delays, seed)
    }

    fn heal(&self) -> Result<()> {
        self.heal_network()
    }

    fn verify_partition(&self) -> Result<Verification> {
        Lab::verify_partition(self)
    }
}
