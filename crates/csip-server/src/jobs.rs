//! Scheduled jobs of adapters, assembled here (DESIGN §1: adapters never
//! depend on each other): the Anypoint sync's daily run, registered with
//! the automations' scheduler.

use chrono::{DateTime, Utc};
use csip_automations::schedule::Schedule;
use csip_automations::{Access, Job};
use csip_store::Store;

/// The `Daily Anypoint Sync` at 01:00 UTC: a Full Sync of every active
/// account with an organization id, each account its own commit, the run's
/// log row keyed by the slot.
#[derive(Debug)]
pub struct AnypointDaily {
    schedule: Schedule,
    settings: csip_anypoint::Settings,
    secrets: csip_store::Secrets,
    channel: Option<String>,
}

impl AnypointDaily {
    /// The job with the integrations' settings; none when `[anypoint]`
    /// does not read (the error says where).
    ///
    /// # Errors
    ///
    /// `[anypoint]` of csip.toml does not fit.
    pub fn new(config: &csip_store::Config) -> Result<AnypointDaily, String> {
        let settings = csip_anypoint::settings(config, &|n| std::env::var(n).ok())
            .map_err(|e| e.to_string())?;
        let schedule = Schedule::new("0 1 * * *", "UTC").map_err(|e| e.to_string())?;
        Ok(AnypointDaily {
            schedule,
            settings,
            secrets: config.secrets.clone(),
            channel: config.slack.updates_channel.clone(),
        })
    }
}

impl Job for AnypointDaily {
    fn name(&self) -> &str {
        csip_anypoint::run::DAILY
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    fn run(&self, access: &dyn Access, slot: DateTime<Utc>, key: &str) -> Result<String, String> {
        csip_anypoint::daily(
            &Bridge(access),
            &self.settings,
            &|org| csip_anypoint::credentials(&self.secrets, org),
            slot,
            key,
            self.channel.as_deref(),
        )
    }
}

/// The scheduler's access, as the Anypoint sync reads and writes.
struct Bridge<'a>(&'a dyn Access);

impl csip_anypoint::run::Access for Bridge<'_> {
    fn read(&self, f: &mut dyn FnMut(&csip_engine::Workbook)) {
        self.0.read(f);
    }

    fn write(&self, f: &mut dyn FnMut(&mut Store)) {
        self.0.write(f);
    }
}

/// The service's access: reads on the latest snapshot, writes through the
/// writer (each write a short hold of it).
pub(crate) struct Served<'a>(pub(crate) &'a crate::App);

impl Access for Served<'_> {
    fn read(&self, f: &mut dyn FnMut(&csip_engine::Workbook)) {
        f(&self.0.snapshot().wb);
    }

    fn write(&self, f: &mut dyn FnMut(&mut Store)) {
        self.0.with_writer(|store| f(store));
    }
}
