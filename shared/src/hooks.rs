//! Test hooks, compiled only with the `test-hooks` feature (tests and benchmarks turn
//! it on; release builds carry none of it): failpoints between the steps of
//! multi-step operations, gates that hold a request at a point while a test makes
//! another change, and a count of the commands sent to the server and of the bytes
//! of its replies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;

/// How an armed failpoint fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As a dropped connection: the database is away (503), the step may be retried.
    Unavailable,
    /// As a server that refuses the step with an error reply that carries no code.
    Codeless,
}

/// Failpoints, gates and the command counter of one [`crate::store::Store`].
#[derive(Default)]
pub struct Hooks {
    commands: Arc<AtomicU64>,
    reply_bytes: Arc<AtomicU64>,
    armed: Mutex<HashMap<&'static str, Fault>>,
    gates: Mutex<HashMap<&'static str, Arc<Gate>>>,
}

/// A gate: the first request that reaches it says so and waits until it is opened.
#[derive(Default)]
pub struct Gate {
    reached: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

impl Gate {
    /// Waits until a request is held at the gate.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held request go on.
    pub fn open(&self) {
        self.open.notify_one();
    }
}

impl Hooks {
    /// Makes the step `name` fail with `fault` until [`Hooks::clear`].
    pub fn arm(&self, name: &'static str, fault: Fault) {
        if let Ok(mut armed) = self.armed.lock() {
            armed.insert(name, fault);
        }
    }

    /// Sets the gate `name`: the next request to reach it is held there until
    /// [`Gate::open`]; later ones pass.
    pub fn gate(&self, name: &'static str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        if let Ok(mut gates) = self.gates.lock() {
            gates.insert(name, Arc::clone(&gate));
        }
        gate
    }

    /// At the gate `name`: held there if it is set (once), else nothing.
    pub(crate) async fn wait_at(&self, name: &'static str) {
        let gate = self.gates.lock().ok().and_then(|mut g| g.remove(name));
        if let Some(gate) = gate {
            gate.reached.notify_one();
            gate.open.notified().await;
        }
    }

    /// Disarms every failpoint.
    pub fn clear(&self) {
        if let Ok(mut armed) = self.armed.lock() {
            armed.clear();
        }
    }

    /// Commands sent to the server by this client so far.
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Bytes of the server's successful replies so far (as BSON): what the client read.
    pub fn reply_bytes(&self) -> u64 {
        self.reply_bytes.load(Ordering::Relaxed)
    }

    /// Counts every command the client starts, and the bytes of every reply.
    pub(crate) fn count_commands(&self, options: &mut ClientOptions) {
        let counter = Arc::clone(&self.commands);
        let bytes = Arc::clone(&self.reply_bytes);
        options.command_event_handler = Some(EventHandler::callback(move |ev| match ev {
            CommandEvent::Started(_) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            CommandEvent::Succeeded(done) => {
                let size = mongodb::bson::to_vec(&done.reply).map_or(0, |v| v.len());
                bytes.fetch_add(size as u64, Ordering::Relaxed);
            }
            _ => {}
        }));
    }

    /// The error of the failpoint `name`, if armed.
    pub(crate) fn check(&self, name: &'static str) -> Result<(), mongodb::error::Error> {
        let fault = self.armed.lock().ok().and_then(|a| a.get(name).copied());
        match fault {
            None => Ok(()),
            Some(Fault::Unavailable) => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                format!("failpoint {name}"),
            )
            .into()),
            Some(Fault::Codeless) => {
                Err(mongodb::error::Error::custom(format!("failpoint {name}")))
            }
        }
    }
}
