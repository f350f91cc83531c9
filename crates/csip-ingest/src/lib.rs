//! Metric ingestion (DESIGN §5 "Ingest"): the daily metrics report, as
//! CSV or the webhook's JSON, read whole, checked whole, and upserted into
//! Platform_Health_Metrics in one transaction — or, when any row is bad,
//! nothing written but the failed run's Automation_Logs row.

#[cfg(feature = "imap")]
pub mod imap;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "mail")]
pub mod maildir;
#[cfg(feature = "tableau")]
pub mod tableau;
