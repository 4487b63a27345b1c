//! `a2a-host push …`: the operator's view of the outbox — dead letters
//! listed and requeued, pending counts — straight from the store.

use std::time::SystemTime;

use crate::config::StoreSpec;
use crate::store::{DeadPushQuery, unix_millis};

/// `a2a-host push`.
#[derive(Debug, clap::Args)]
pub struct PushCommand {
    #[command(subcommand)]
    action: PushAction,
}

#[derive(Debug, clap::Subcommand)]
enum PushAction {
    /// Pending and dead-lettered notifications per agent.
    Status(Filter),
    /// List dead-lettered notifications, oldest first.
    Dead {
        #[command(flatten)]
        filter: Filter,
        /// The most to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead-lettered notifications back in their queues, to be
    /// delivered again (those whose config was deleted are dropped).
    Retry(Filter),
}

#[derive(Debug, clap::Args)]
struct Filter {
    /// The store the host uses (`sqlite:PATH`, `postgres://…`).
    #[arg(long, env = "A2A_HOST_STORE", value_name = "STORE")]
    store: StoreSpec,
    /// Only this agent's tasks.
    #[arg(long)]
    agent: Option<String>,
    /// Only this task.
    #[arg(long)]
    task: Option<String>,
}

impl Filter {
    fn query(&self, limit: usize) -> DeadPushQuery {
        DeadPushQuery {
            agent: self.agent.clone(),
            task_id: self.task.clone(),
            limit,
        }
    }
}

/// Runs `a2a-host push …`, printing to stdout.
pub async fn run_push(cmd: PushCommand) -> Result<(), String> {
    let filter = match &cmd.action {
        PushAction::Status(f) | PushAction::Retry(f) => f,
        PushAction::Dead { filter, .. } => filter,
    };
    if filter.store == StoreSpec::Memory {
        return Err("a memory store lives inside its host; give the store file or URL".into());
    }
    let store = crate::store::open(&filter.store).await?;
    let fail = |e: crate::store::StoreError| e.to_string();
    match cmd.action {
        PushAction::Status(f) => {
            let counts = store.push_counts().await.map_err(fail)?;
            println!("{:<32} {:>10} {:>10}", "AGENT", "PENDING", "DEAD");
            for c in counts
                .iter()
                .filter(|c| f.agent.as_deref().is_none_or(|a| a == c.agent))
            {
                println!("{:<32} {:>10} {:>10}", c.agent, c.pending, c.dead);
            }
        }
        PushAction::Dead { filter, limit } => {
            let dead = store
                .dead_pushes(&filter.query(limit))
                .await
                .map_err(fail)?;
            if dead.is_empty() {
                println!("no dead-lettered notifications");
            }
            for d in dead {
                println!(
                    "{}  agent={} attempts={} died={} url={}\n    {}",
                    d.key.event_id(),
                    d.agent,
                    d.attempts,
                    crate::model::Timestamp::from_unix_millis(d.died_ms)
                        .map_or_else(|| d.died_ms.to_string(), |t| t.to_string()),
                    super::shown(&d.url),
                    d.error
                );
            }
        }
        PushAction::Retry(f) => {
            let n = store
                .requeue_dead_pushes(&f.query(0), unix_millis(SystemTime::now()))
                .await
                .map_err(fail)?;
            println!("{n} notification(s) requeued; a running host delivers them");
        }
    }
    Ok(())
}
