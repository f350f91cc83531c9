//! A durable workbook served from another program: the CSIP pilot stored in
//! a SQLite file, a token issued, the REST API started in-process on a free
//! port, one metric edited over HTTP, and the change read back from the file
//! after the service is gone.
//!
//! `cargo run -p csip-examples --example durable_service`

use csip_engine::{Clock, Value};
use csip_server::{App, Config};
use csip_store::{Role, Store};
use std::error::Error;
use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("csip-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("csip.db");
    let today = csip_workbook::sample_today();
    let at = today.and_hms_opt(9, 0, 0).ok_or("a time")?;

    // The pilot workbook in a new file, and a token for its CSM.
    let mut store = Store::create(
        &path,
        csip_workbook::table_files(),
        csip_workbook::pilot(today)?,
    )?;
    let token = store.create_token("Kari Nordmann", Role::Csm, at)?;
    let wb = store.workbook();
    let metrics = wb.table_id("Platform_Health_Metrics")?;
    let metric = wb.rows(metrics)?[0];
    println!("stored {} in {}", wb.table_name(metrics)?, path.display());

    // The service, in this process, on a free port.
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = App::new(
        store,
        Config {
            today: Some(today),
            ..Config::default()
        },
    )?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(csip_server::serve(app, listener, async {
        let _ = stopped.await;
    }));

    // One write over HTTP (a plain socket keeps the example free of an HTTP client).
    let body = format!(
        r#"{{"operations":[{{"op":"set","table":"Platform_Health_Metrics","row_id":{},"column":"Current_Value","value":99.5}}]}}"#,
        metric.get()
    );
    let mut socket = std::net::TcpStream::connect(addr)?;
    write!(
        socket,
        "POST /api/v1/transactions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer)?;
    let (head, json) = answer.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    println!("{}", head.lines().next().unwrap_or_default());
    println!("change set: {}", json.chars().take(300).collect::<String>());

    // Stop the service; the edit is in the file.
    let _ = stop.send(());
    runtime.block_on(server)??;
    let reopened = Store::open(&path, Clock::on(today))?;
    let wb = reopened.workbook();
    let value = wb.column_id(metrics, "Current_Value")?;
    println!(
        "after a restart, Current_Value = {}",
        wb.display(wb.value(value, metric).unwrap_or(&Value::Blank))
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
