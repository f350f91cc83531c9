//! The weekly backup (`csip_automations::backup`) on the pilot workbook:
//! every table written as `csip export` writes it, a manifest whose rows,
//! sizes and SHA-256 are checked here independently, verification that
//! catches a changed byte, retention that removes only old backups, and an
//! idempotent rerun. With the feature `s3`, the same against a local S3
//! server (moto's, started here; the test says SKIP without it).

#![allow(clippy::unwrap_used)]

use csip_automations::backup::{
    BackupConfig, BackupError, MANIFEST_FILE, Manifest, Target, backup, backup_name, list, verify,
};
use csip_engine::{ColumnType, NaiveDate, NaiveDateTime, Value, Workbook};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

fn pilot() -> Workbook {
    csip_workbook::pilot(csip_workbook::sample_today()).unwrap()
}

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file of a folder, by name, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Every entry of a folder, by name.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Checks the backup `name` of `wb` whose files are `files`, against the
/// workbook and against `manifest`, computing everything itself.
fn check_backup(wb: &Workbook, name: &str, manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(manifest.name, name);
    // The manifest on disk, read as plain JSON: its shape is the contract.
    let json: serde_json::Value = serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
    assert_eq!(json["name"], name);
    assert_eq!(
        json["created_at"],
        manifest.created_at.format("%Y-%m-%dT%H:%M:%S").to_string()
    );
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(tables.len(), wb.tables().count());
    let mut expected_files = vec![MANIFEST_FILE.to_string()];
    for (t, entry) in wb.tables().zip(tables) {
        let table = wb.table_name(t).unwrap();
        let file = format!("{table}.csv");
        expected_files.push(file.clone());
        assert_eq!(entry["table"], table);
        assert_eq!(entry["file"], file.as_str());
        assert_eq!(
            entry["rows"].as_u64().unwrap(),
            wb.rows(t).unwrap().len() as u64,
            "{table}"
        );
        let bytes = &files[&file];
        assert_eq!(entry["bytes"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(entry["sha256"], sha256_hex(bytes).as_str(), "{table}");
        check_csv(wb, t, bytes);
    }
    expected_files.sort();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), expected_files);
}

/// A table's CSV read back with the `csv` crate: `row_id` then the data
/// columns, one record per row with its id, each cell the displayed value
/// (with a `'` before formula-looking text).
fn check_csv(wb: &Workbook, table: csip_engine::TableId, bytes: &[u8]) {
    let data: Vec<_> = wb
        .columns(table)
        .unwrap()
        .iter()
        .copied()
        .filter(|c| {
            !wb.is_formula(*c).unwrap()
                && !matches!(wb.column_schema(*c).unwrap().ty, ColumnType::Button)
        })
        .collect();
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut expected = vec!["row_id".to_string()];
    expected.extend(data.iter().map(|c| wb.column_name(*c).unwrap().to_string()));
    assert_eq!(header, expected);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let rows = wb.rows(table).unwrap();
    assert_eq!(records.len(), rows.len());
    let mut compared = 0;
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(record[0], row.get().to_string());
        for (i, c) in data.iter().enumerate() {
            let value = wb.value(*c, *row).unwrap();
            let shown = wb.display(value);
            let cell = &record[i + 1];
            if matches!(value, Value::Number(_)) {
                assert_eq!(cell, shown);
            } else {
                assert!(
                    cell == shown || *cell == format!("'{shown}"),
                    "{cell:?} for {shown:?}"
                );
            }
            compared += 1;
        }
    }
    assert!(rows.is_empty() || compared > 0);
}

#[test]
fn a_backup_writes_every_table_and_a_manifest_that_matches_the_files() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().join("backups"));
    let name = backup_name(at(7, 3).date());
    assert_eq!(name, "csip-backup-2026-W50");

    let manifest = backup(&wb, &name, &target, at(7, 3), 8).unwrap();
    assert_eq!(manifest.created_at, at(7, 3));
    assert_eq!(manifest.tables.len(), 16);
    let total: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let rows: usize = wb.tables().map(|t| wb.rows(t).unwrap().len()).sum();
    assert_eq!(total, rows as u64);
    // The complete backup only: no hidden folder of one being written.
    assert_eq!(entries(&dir.path().join("backups")), vec![name.clone()]);
    let folder = dir.path().join("backups").join(&name);
    check_backup(&wb, &name, &manifest, &files(&folder));
    assert_eq!(verify(&target, &name).unwrap(), manifest);
    assert_eq!(list(&target).unwrap(), vec![manifest]);
}

#[test]
fn the_files_are_what_csip_export_writes() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    backup(&wb, "csip-backup-x", &target, at(7, 3), 8).unwrap();
    let options = csip_store::CsvOptions {
        row_ids: true,
        ..Default::default()
    };
    for t in wb.tables() {
        let mut expected = Vec::new();
        csip_store::write_table_csv(&wb, t, &mut expected, options).unwrap();
        let path = dir
            .path()
            .join("csip-backup-x")
            .join(format!("{}.csv", wb.table_name(t).unwrap()));
        assert_eq!(std::fs::read(path).unwrap(), expected);
    }
}

#[test]
fn verify_fails_once_a_byte_of_a_file_or_its_manifest_changes() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let name = "csip-backup-2026-W49";
    backup(&wb, name, &target, at(1, 3), 8).unwrap();
    let folder = dir.path().join(name);
    verify(&target, name).unwrap();

    // One byte changed, the size kept.
    let tasks = folder.join("Tasks.csv");
    let original = std::fs::read(&tasks).unwrap();
    let mut changed = original.clone();
    let last = changed.len() - 2;
    changed[last] = if changed[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&tasks, &changed).unwrap();
    let e = verify(&target, name).unwrap_err();
    assert!(
        matches!(&e, BackupError::Mismatch { file, what: "SHA-256", .. } if file == "Tasks.csv"),
        "{e:?}"
    );
    assert!(e.to_string().contains("restore from another backup"), "{e}");

    // A byte more.
    let mut longer = original.clone();
    longer.push(b'\n');
    std::fs::write(&tasks, &longer).unwrap();
    let e = verify(&target, name).unwrap_err();
    assert!(
        matches!(&e, BackupError::Mismatch { what: "bytes", .. }),
        "{e:?}"
    );

    // Back as it was: verified again.
    std::fs::write(&tasks, &original).unwrap();
    verify(&target, name).unwrap();

    // A manifest that claims a row more than the file holds.
    let manifest_path = folder.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = json["tables"][0]["rows"].as_u64().unwrap();
    json["tables"][0]["rows"] = (rows + 1).into();
    std::fs::write(&manifest_path, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = verify(&target, name).unwrap_err();
    assert!(
        matches!(&e, BackupError::Mismatch { what: "rows", .. }),
        "{e:?}"
    );

    // A manifest that points outside the backup is refused, not followed.
    json["tables"][0]["rows"] = rows.into();
    json["tables"][0]["file"] = "../../etc/passwd.csv".into();
    std::fs::write(&manifest_path, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = verify(&target, name).unwrap_err();
    assert!(matches!(&e, BackupError::Damaged { .. }), "{e:?}");

    // A file gone.
    std::fs::write(&manifest_path, text).unwrap();
    std::fs::remove_file(&tasks).unwrap();
    let e = verify(&target, name).unwrap_err();
    assert!(matches!(&e, BackupError::Io { .. }), "{e:?}");

    // No such backup.
    let e = verify(&target, "csip-backup-1999-W01").unwrap_err();
    assert!(matches!(&e, BackupError::NotFound { .. }), "{e:?}");
}

#[test]
fn keep_two_after_four_backups_leaves_the_two_newest_and_nothing_else_touched() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let target = Target::Local(root.to_path_buf());
    // Things that are not backups, some of them looking like one.
    std::fs::create_dir(root.join("csip-backup-notes")).unwrap();
    std::fs::write(root.join("csip-backup-notes").join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(root.join("exports")).unwrap();
    std::fs::write(root.join("exports").join(MANIFEST_FILE), "{}").unwrap();
    std::fs::write(root.join("csip-backup-2020-W01.csv"), "a file").unwrap();

    let names: Vec<String> = (0..4)
        .map(|i| backup_name(at(1 + 7 * i, 3).date()))
        .collect();
    assert_eq!(
        names,
        [
            "csip-backup-2026-W49",
            "csip-backup-2026-W50",
            "csip-backup-2026-W51",
            "csip-backup-2026-W52"
        ]
    );
    for (i, name) in names.iter().enumerate() {
        backup(&wb, name, &target, at(1 + 7 * i as u32, 3), 2).unwrap();
    }
    let kept: Vec<String> = list(&target).unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(kept, &names[2..]);
    assert_eq!(
        entries(root),
        [
            "csip-backup-2020-W01.csv",
            "csip-backup-2026-W51",
            "csip-backup-2026-W52",
            "csip-backup-notes",
            "exports"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(root.join("csip-backup-notes").join("notes.txt")).unwrap(),
        "mine"
    );
    for name in &names[2..] {
        verify(&target, name).unwrap();
    }
}

#[test]
fn retention_goes_by_when_a_backup_was_taken_and_keeps_the_new_one() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    backup(&wb, "csip-backup-b", &target, at(10, 3), 8).unwrap();
    backup(&wb, "csip-backup-c", &target, at(20, 3), 8).unwrap();
    // Taken last, by a clock set back: the new one is kept all the same,
    // and of the others the newer.
    backup(&wb, "csip-backup-a", &target, at(1, 3), 2).unwrap();
    assert_eq!(
        entries(dir.path()),
        ["csip-backup-a", "csip-backup-c"],
        "the oldest by created_at, csip-backup-b, goes"
    );
}

#[test]
fn a_rerun_with_the_same_name_writes_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let name = "csip-backup-2026-W49";
    let first = backup(&pilot(), name, &target, at(1, 3), 8).unwrap();
    let before = files(&dir.path().join(name));

    // Another day's workbook (its dates moved), later: the same backup.
    let other = csip_workbook::pilot(csip_workbook::sample_today().succ_opt().unwrap()).unwrap();
    let again = backup(&other, name, &target, at(2, 3), 8).unwrap();
    assert_eq!(again, first);
    assert_eq!(files(&dir.path().join(name)), before);
    assert_eq!(entries(dir.path()), [name]);
    // That workbook's files do differ: a rewrite would have shown.
    let fresh = Target::Local(dir.path().join("fresh"));
    let theirs = backup(&other, name, &fresh, at(2, 3), 8).unwrap();
    assert_ne!(theirs.tables, first.tables);
}

#[test]
fn a_crashed_backup_leaves_nothing_under_the_name_and_a_rerun_completes_it() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let name = "csip-backup-2026-W49";
    // What a crash halfway through leaves: the hidden partial folder.
    let partial = dir.path().join(format!(".{name}.partial"));
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("Tasks.csv"), "half").unwrap();
    assert!(list(&target).unwrap().is_empty());
    assert!(matches!(
        verify(&target, name),
        Err(BackupError::NotFound { .. })
    ));

    let manifest = backup(&wb, name, &target, at(1, 3), 8).unwrap();
    assert_eq!(entries(dir.path()), [name]);
    check_backup(&wb, name, &manifest, &files(&dir.path().join(name)));
}

#[test]
fn a_folder_of_the_name_that_is_not_a_backup_is_left_alone() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().to_path_buf());
    let name = "csip-backup-2026-W49";
    std::fs::create_dir(dir.path().join(name)).unwrap();
    std::fs::write(dir.path().join(name).join("mine.txt"), "mine").unwrap();
    let e = backup(&wb, name, &target, at(1, 3), 8).unwrap_err();
    assert!(matches!(&e, BackupError::Occupied { .. }), "{e:?}");
    assert!(e.to_string().contains("move it away"), "{e}");
    assert_eq!(entries(&dir.path().join(name)), ["mine.txt"]);
}

#[test]
fn bad_names_and_keep_zero_are_refused_before_anything_is_written() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Local(dir.path().join("b"));
    for name in [
        "",
        "csip-backup-",
        "backup-2026-W49",
        "csip-backup-../../x",
        "csip-backup-a/b",
        "csip-backup-a\\b",
        "csip-backup-ä",
    ] {
        let e = backup(&wb, name, &target, at(1, 3), 8).unwrap_err();
        assert!(matches!(&e, BackupError::Name { .. }), "{name:?}: {e:?}");
        assert!(matches!(
            verify(&target, name),
            Err(BackupError::Name { .. })
        ));
    }
    let e = backup(&wb, "csip-backup-x", &target, at(1, 3), 0).unwrap_err();
    assert!(matches!(e, BackupError::KeepZero), "{e:?}");
    assert!(!dir.path().join("b").exists());
}

#[test]
fn the_configuration_section_reads_with_defaults_and_refuses_unknown_keys() {
    let config: BackupConfig = toml::from_str("").unwrap();
    assert_eq!(config, BackupConfig::default());
    assert_eq!(config.keep, 8);
    let workbook = Path::new("/srv/csip/csip.db");
    match config.target(workbook).unwrap() {
        Target::Local(dir) => assert_eq!(dir, Path::new("/srv/csip/backups")),
        #[allow(unreachable_patterns)]
        other => panic!("{other:?}"),
    }
    let config: BackupConfig = toml::from_str("dir = \"weekly\"\nkeep = 3").unwrap();
    match config.target(Path::new("csip.db")).unwrap() {
        Target::Local(dir) => assert_eq!(dir, Path::new("./weekly")),
        #[allow(unreachable_patterns)]
        other => panic!("{other:?}"),
    }
    let e = toml::from_str::<BackupConfig>("keep = 3\nbucket = \"x\"").unwrap_err();
    assert!(e.to_string().contains("bucket"), "{e}");
    let e = toml::from_str::<BackupConfig>("[s3]\nbucket = \"x\"\nsecret = \"y\"").unwrap_err();
    assert!(e.to_string().contains("secret"), "{e}");

    let both: BackupConfig = toml::from_str("dir = \"b\"\n[s3]\nbucket = \"x\"").unwrap();
    assert!(matches!(
        both.target(workbook),
        Err(BackupError::TwoTargets)
    ));
    let zero: BackupConfig = toml::from_str("keep = 0").unwrap();
    assert!(matches!(zero.target(workbook), Err(BackupError::KeepZero)));
    #[cfg(not(feature = "s3"))]
    {
        let s3: BackupConfig = toml::from_str("[s3]\nbucket = \"x\"").unwrap();
        assert!(matches!(s3.target(workbook), Err(BackupError::NoS3Support)));
    }
}

/// Against a real S3-compatible server: moto's, started on a free port.
#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use csip_automations::backup::{S3Config, S3Target};
    use csip_store::Secret;
    use std::process::{Child, Command, Stdio};

    /// The server, stopped when dropped.
    struct Moto {
        child: Child,
        url: String,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// moto's server on a free port, or `None` (after a SKIP line) where it
    /// is not installed.
    fn start_moto() -> Option<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!(
                    "SKIP: the S3 backup test needs moto's server (`python3 -m pip install 'moto[server]'`, binary `moto_server`), which is not installed"
                );
                return None;
            }
            Err(e) => panic!("cannot start moto_server: {e}"),
        };
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Up when it answers (a readiness wait, not a timing assertion).
        let client = reqwest::blocking::Client::new();
        for _ in 0..600 {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server exited at start: {status}");
            }
            if client.get(&moto.url).send().is_ok() {
                return Some(moto);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server did not answer on {}", moto.url);
    }

    /// Creates a bucket: a plain `PUT /bucket` (object_store makes none).
    fn create_bucket(url: &str) {
        let response = reqwest::blocking::Client::new()
            .put(url)
            .body("")
            .send()
            .unwrap();
        assert!(response.status().is_success(), "PUT {url}: {response:?}");
    }

    /// A client of the bucket of its own, to read and write objects
    /// behind the backup's back.
    struct Objects {
        store: object_store::aws::AmazonS3,
        runtime: tokio::runtime::Runtime,
    }

    impl Objects {
        fn new(url: &str, bucket: &str) -> Objects {
            let store = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region("us-east-1")
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_endpoint(url)
                .with_allow_http(true)
                .build()
                .unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            Objects { store, runtime }
        }

        fn get(&self, key: &str) -> Option<Vec<u8>> {
            use object_store::ObjectStoreExt;
            let key = object_store::path::Path::from(key);
            self.runtime.block_on(async {
                match self.store.get(&key).await {
                    Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
                    Err(object_store::Error::NotFound { .. }) => None,
                    Err(e) => panic!("{e}"),
                }
            })
        }

        fn put(&self, key: &str, bytes: &[u8]) {
            use object_store::ObjectStoreExt;
            let key = object_store::path::Path::from(key);
            let payload = object_store::PutPayload::from(bytes.to_vec());
            self.runtime
                .block_on(self.store.put(&key, payload))
                .unwrap();
        }
    }

    #[test]
    fn backups_to_a_bucket_are_listed_verified_and_kept_to_the_newest() {
        let Some(moto) = start_moto() else { return };
        create_bucket(&format!("{}/csip-test", moto.url));
        let objects = Objects::new(&moto.url, "csip-test");
        let target = Target::S3(S3Target {
            config: S3Config {
                bucket: "csip-test".into(),
                prefix: Some("/prod/weekly/".into()),
                endpoint: Some(moto.url.clone()),
                region: Some("eu-north-1".into()),
                allow_http: true,
            },
            access_key_id: Secret::new("test"),
            secret_access_key: Secret::new("s3cr3t-for-the-test"),
        });
        assert!(!format!("{target:?}").contains("s3cr3t"));
        assert_eq!(target.to_string(), "s3://csip-test/prod/weekly");
        let object = |key: &str| format!("prod/weekly/{key}");
        let get = |key: String| objects.get(&key);
        let put = |key: String, bytes: &[u8]| objects.put(&key, bytes);
        // Not backups: a folder of the prefix without a manifest, another
        // folder with one.
        put(object("csip-backup-notes/notes.txt"), b"mine");
        put(object("exports/manifest.json"), b"{}");

        let wb = pilot();
        let names = [
            "csip-backup-2026-W49",
            "csip-backup-2026-W50",
            "csip-backup-2026-W51",
        ];
        let first = backup(&wb, names[0], &target, at(1, 3), 2).unwrap();
        // The objects, fetched by a client of the test's own, are what the
        // manifest says.
        let mut fetched = BTreeMap::new();
        fetched.insert(
            MANIFEST_FILE.to_string(),
            get(object(&format!("{}/{MANIFEST_FILE}", names[0]))).unwrap(),
        );
        for t in &first.tables {
            let bytes = get(object(&format!("{}/{}", names[0], t.file))).unwrap();
            fetched.insert(t.file.clone(), bytes);
        }
        check_backup(&wb, names[0], &first, &fetched);
        // The same bytes as a local backup.
        let dir = tempfile::tempdir().unwrap();
        let local = backup(
            &wb,
            names[0],
            &Target::Local(dir.path().to_path_buf()),
            at(1, 3),
            2,
        )
        .unwrap();
        assert_eq!(local, first);
        assert_eq!(verify(&target, names[0]).unwrap(), first);

        // A rerun: the same manifest, nothing rewritten.
        assert_eq!(backup(&wb, names[0], &target, at(2, 3), 2).unwrap(), first);

        backup(&wb, names[1], &target, at(8, 3), 2).unwrap();
        backup(&wb, names[2], &target, at(15, 3), 2).unwrap();
        let kept: Vec<String> = list(&target).unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(kept, &names[1..]);
        assert_eq!(
            get(object(&format!("{}/{MANIFEST_FILE}", names[0]))),
            None,
            "the oldest is removed"
        );
        assert_eq!(get(object(&format!("{}/Tasks.csv", names[0]))), None);
        assert_eq!(
            get(object("csip-backup-notes/notes.txt")).as_deref(),
            Some(&b"mine"[..])
        );
        assert_eq!(
            get(object("exports/manifest.json")).as_deref(),
            Some(&b"{}"[..])
        );

        // Verified, also when called from inside a tokio runtime (the
        // backup's own runtime runs on a thread of its own).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { verify(&target, names[2]).unwrap() });

        // One byte of an object changed: verification fails.
        let key = object(&format!("{}/Tasks.csv", names[2]));
        let mut bytes = get(key.clone()).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
        put(key.clone(), &bytes);
        let e = verify(&target, names[2]).unwrap_err();
        assert!(
            matches!(
                &e,
                BackupError::Mismatch {
                    what: "SHA-256",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = verify(&target, "csip-backup-1999-W01").unwrap_err();
        assert!(matches!(&e, BackupError::NotFound { .. }), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_missing_bucket_is_an_error_that_says_what_to_check_without_the_secret() {
        let Some(moto) = start_moto() else { return };
        let target = Target::S3(S3Target {
            config: S3Config {
                bucket: "no-such-bucket".into(),
                prefix: None,
                endpoint: Some(moto.url.clone()),
                region: None,
                allow_http: true,
            },
            access_key_id: Secret::new("test"),
            secret_access_key: Secret::new("s3cr3t-for-the-test"),
        });
        let e = backup(&pilot(), "csip-backup-x", &target, at(1, 3), 2).unwrap_err();
        assert!(matches!(&e, BackupError::S3 { .. }), "{e:?}");
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("check the bucket"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
