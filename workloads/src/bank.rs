//! The bank workload: Jepsen's bank test. Money moves between [`ACCOUNTS`] accounts
//! holding [`TOTAL`] in all; reads see every balance at once. Checked by `bank`:
//! every read must sum to the total, with no negative balance.
//!
//! Through the [`crate::api::Txn`] API, accounts `bank/a0 ... bank/a7`; an absent
//! account holds its initial balance (the total split evenly, the remainder in
//! account 0), so nothing needs setting up:
//! - `read`: one snapshot read of every account; the completion is Jepsen's
//!   `{account balance}` map.
//! - `transfer {:from a :to b :amount n}` (Jepsen's shape and defaults: distinct
//!   accounts, 1 to [`MAX_TRANSFER`]): read both balances with their versions;
//!   refuse (`fail`, `:insufficient-funds`) when `a` holds less than `n`; else
//!   commit both new balances in one transaction guarded on both versions (etcd:
//!   `txn` comparing both `mod_revision`s; Consul: `/v1/txn` with `check-index` on
//!   both). A guard that fails means another transfer touched them: `fail`
//!   (`:conflict`), nothing written; a commit whose outcome is unknown is `info`.

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, CallError, Client, Completion};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The bank workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "bank",
    summary: "Jepsen's bank: transfers between 8 accounts as guarded two-key transactions, \
              and snapshot reads of every balance",
    needs: &[Api::Txn],
    checker: "bank",
    make,
};

/// Jepsen's defaults: 8 accounts, a total of 100, transfers of at most 5.
pub const ACCOUNTS: i64 = 8;
pub const TOTAL: i64 = 100;
pub const MAX_TRANSFER: i64 = 5;

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; bank keeps its accounts".into(),
        ));
    }
    if options.concurrency == 0 {
        return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
    }
    Ok(Box::new(Bank { seed: options.seed }))
}

/// The store key of an account.
pub fn account_key(account: i64) -> String {
    format!("bank/a{account}")
}

/// What an account holds before anyone writes it.
pub fn initial_balance(account: i64) -> i64 {
    TOTAL / ACCOUNTS + if account == 0 { TOTAL % ACCOUNTS } else { 0 }
}

/// The bank workload.
#[derive(Debug, Clone)]
pub struct Bank {
    seed: u64,
}

impl Workload for Bank {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(BankStream { rng })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(op, client))
    }
}

struct BankStream {
    rng: ChaCha8Rng,
}

/// Jepsen's transfer value.
pub fn transfer_value(from: i64, to: i64, amount: i64) -> Value {
    Value::Map(vec![
        (Value::kw("from"), from.into()),
        (Value::kw("to"), to.into()),
        (Value::kw("amount"), amount.into()),
    ])
}

impl OpStream for BankStream {
    fn next_op(&mut self) -> Invocation {
        if self.rng.random_range(0..2u8) == 0 {
            return Invocation { f: "read", key: None, value: Value::Nil };
        }
        let from = self.rng.random_range(0..ACCOUNTS);
        let to = (from + self.rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
        let amount = self.rng.random_range(1..=MAX_TRANSFER);
        Invocation { f: "transfer", key: None, value: transfer_value(from, to, amount) }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![Invocation { f: "read", key: None, value: Value::Nil }]
    }
}

/// A balance as stored (absent = the initial balance); `Err` for text that is no
/// integer.
fn balance(account: i64, stored: Option<&str>) -> Result<i64, String> {
    match stored {
        None => Ok(initial_balance(account)),
        Some(text) => text.parse().map_err(|_| format!("account {account} holds {text:?}")),
    }
}

fn field(v: &Value, name: &str) -> Option<i64> {
    v.get(&Value::kw(name)).and_then(Value::as_int)
}

async fn perform(op: &Invocation, client: &mut dyn Client) -> Completion {
    let Some(txn) = client.txn() else { return Completion::missing(op, Api::Txn) };
    match op.f {
        "read" => {
            let keys: Vec<String> = (0..ACCOUNTS).map(account_key).collect();
            let read = match txn.read(&keys).await {
                Ok(r) => r,
                Err(e) => return Completion::of_error(op, e),
            };
            let mut balances = Vec::new();
            for (account, v) in (0..ACCOUNTS).zip(&read) {
                match balance(account, v.value.as_deref()) {
                    Ok(b) => balances.push((Value::Int(account), Value::Int(b))),
                    // A value no transfer writes: report it as it is, for the checker.
                    Err(_) => balances.push((Value::Int(account), v.value.clone().into())),
                }
            }
            Completion::ok(Value::Map(balances))
        }
        "transfer" => {
            let (Some(from), Some(to), Some(amount)) =
                (field(&op.value, "from"), field(&op.value, "to"), field(&op.value, "amount"))
            else {
                return Completion::fail(
                    op,
                    format!("bank: a transfer needs from, to, amount: {}", op.value),
                );
            };
            let keys = [account_key(from), account_key(to)];
            let read = match txn.read(&keys).await {
                Ok(r) => r,
                // The read changed nothing: the transfer certainly did not happen.
                Err(CallError::Refused(why) | CallError::Unknown(why)) => {
                    return Completion::fail(op, why);
                }
            };
            let [a, b] = read.as_slice() else {
                return Completion::fail(
                    op,
                    "bank: the read returned the wrong number of accounts",
                );
            };
            let (from_balance, to_balance) =
                match (balance(from, a.value.as_deref()), balance(to, b.value.as_deref())) {
                    (Ok(x), Ok(y)) => (x, y),
                    (Err(e), _) | (_, Err(e)) => return Completion::fail(op, e),
                };
            if from_balance < amount {
                return Completion::fail(op, Value::kw("insufficient-funds"));
            }
            let guards = [(keys[0].clone(), a.version), (keys[1].clone(), b.version)];
            let writes = [
                (keys[0].clone(), (from_balance - amount).to_string()),
                (keys[1].clone(), (to_balance + amount).to_string()),
            ];
            match txn.commit(&guards, &writes).await {
                Ok(true) => Completion::ok(op.value.clone()),
                Ok(false) => Completion::fail(op, Value::kw("conflict")),
                Err(e) => Completion::of_error(op, e),
            }
        }
        other => Completion::fail(op, format!("bank: unknown f {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_balances_sum_to_the_total_and_transfers_have_jepsens_shape() {
        assert_eq!((0..ACCOUNTS).map(initial_balance).sum::<i64>(), TOTAL);
        let w = Bank { seed: 3 };
        let mut s = w.stream(0);
        let mut transfers = 0;
        for _ in 0..300 {
            let op = s.next_op();
            if op.f == "transfer" {
                transfers += 1;
                let (from, to, amount) = (
                    field(&op.value, "from").unwrap(),
                    field(&op.value, "to").unwrap(),
                    field(&op.value, "amount").unwrap(),
                );
                assert!(from != to && (0..ACCOUNTS).contains(&from) && (0..ACCOUNTS).contains(&to));
                assert!((1..=MAX_TRANSFER).contains(&amount));
            }
        }
        assert!((50..250).contains(&transfers), "{transfers}");
        assert_eq!(balance(3, None), Ok(12));
        assert!(balance(3, Some("x")).is_err());
    }
}
