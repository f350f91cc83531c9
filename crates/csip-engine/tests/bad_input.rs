//! Bad input of every kind gives a typed error that names where the problem
//! is, never a panic, and a rejected write changes nothing.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Clock, ColumnSchema, ColumnType, ErrorKind, Schema, TableSchema, Transaction,
    TransactionErrorKind, Value, Workbook,
};

fn clock() -> Clock {
    Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

fn schema_with_formula(formula: &str) -> Schema {
    Schema::new().with_table(
        TableSchema::new("Account_Master")
            .with_column(ColumnSchema::data("Name", ColumnType::Text))
            .with_column(ColumnSchema::data("Health_Score", ColumnType::Number))
            .with_column(ColumnSchema::formula("Out", ColumnType::Number, formula)),
    )
}

fn schema_problem(formula: &str) -> csip_engine::SchemaProblem {
    let err = Workbook::new(&schema_with_formula(formula), clock()).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    err.problems.into_iter().next().unwrap()
}

#[test]
fn unparsable_formula() {
    let p = schema_problem("[Health_Score] * ");
    assert_eq!(p.kind, ErrorKind::Parse);
    assert_eq!(p.place(), "Account_Master.Out");
    let text = p.render();
    assert!(text.contains("expected an expression"), "{text}");
    assert!(text.contains('^'), "{text}");
}

#[test]
fn unknown_column_suggests_the_close_one() {
    let p = schema_problem("[Helth_Score] * 2");
    assert_eq!(p.kind, ErrorKind::UnknownName);
    assert_eq!(p.message, "no column `Helth_Score` in `Account_Master`");
    assert_eq!(
        p.diagnostic.as_ref().unwrap().hints,
        ["did you mean `Health_Score`?"]
    );
    assert!(p.render().contains("^^^^^^^^^^^^^"), "{}", p.render());
}

#[test]
fn unknown_function_and_wrong_arity() {
    let p = schema_problem("Averge([Health_Score])");
    assert_eq!(p.kind, ErrorKind::UnknownName);
    assert_eq!(
        p.diagnostic.as_ref().unwrap().hints,
        ["did you mean `Average`?"]
    );
    let p = schema_problem("Round(1, 2, 3)");
    assert_eq!(p.kind, ErrorKind::InvalidArgument);
    assert_eq!(p.message, "`Round` takes 1 or 2 arguments, but was given 3");
}

#[test]
fn projection_of_a_non_row_is_a_type_error() {
    let p = schema_problem("[Health_Score].[Name]");
    assert_eq!(p.kind, ErrorKind::TypeMismatch);
}

#[test]
fn every_problem_is_reported_at_once() {
    let schema = Schema::new().with_table(
        TableSchema::new("T")
            .with_column(ColumnSchema::formula("A", ColumnType::Number, "[Nope] + 1"))
            .with_column(ColumnSchema::formula("B", ColumnType::Number, "1 +"))
            .with_column(ColumnSchema::data(
                "C",
                ColumnType::Relation {
                    table: "Missing".into(),
                    multiple: false,
                },
            ))
            .with_column(ColumnSchema::data("D", ColumnType::Select(vec![]))),
    );
    let err = Workbook::new(&schema, clock()).unwrap_err();
    let places: Vec<String> = err.problems.iter().map(|p| p.place()).collect();
    assert_eq!(places, ["T.A", "T.B", "T.C", "T.D"], "{err}");
    let text = err.to_string();
    assert!(text.starts_with("the schema has 4 problems:"), "{text}");
    assert!(
        text.contains("help: did you mean") || text.contains("^"),
        "{text}"
    );
}

#[test]
fn a_cycle_is_an_error_value_and_the_rest_computes() {
    let schema = Schema::new().with_table(
        TableSchema::new("T")
            .with_column(ColumnSchema::formula("A", ColumnType::Number, "[B] + 1"))
            .with_column(ColumnSchema::formula("B", ColumnType::Number, "[A] + 1"))
            .with_column(ColumnSchema::data("C", ColumnType::Number))
            .with_column(ColumnSchema::formula("D", ColumnType::Number, "[C] * 2")),
    );
    let mut wb = Workbook::new(&schema, clock()).unwrap();
    let t = wb.table_id("T").unwrap();
    let c = |n| wb.column_id(t, n).unwrap();
    let (a, b, cc, d) = (c("A"), c("B"), c("C"), c("D"));
    assert_eq!(wb.cycles(), vec![vec![a, b]]);
    let ids = wb
        .import(vec![(t, vec![vec![(cc, Value::from(4))]])])
        .unwrap();
    let row = ids[0][0];
    let err = wb.value(a, row).unwrap().as_error().unwrap().clone();
    assert_eq!(err.kind, ErrorKind::Cycle);
    assert_eq!(
        err.message,
        "`T.A` is part of a dependency cycle: T.A → T.B"
    );
    assert_eq!(wb.value(d, row).ok(), Some(&Value::from(8)));
}

struct Fixture {
    wb: Workbook,
}

fn fixture() -> Fixture {
    let schema = Schema::new()
        .with_table(
            TableSchema::new("People")
                .with_column(
                    ColumnSchema::data("Email", ColumnType::Email)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data(
                    "Role",
                    ColumnType::Select(vec!["CSM".into(), "AE".into()]),
                ))
                .with_column(ColumnSchema::data(
                    "Score",
                    ColumnType::Slider {
                        min: 1.into(),
                        max: 10.into(),
                    },
                )),
        )
        .with_table(
            TableSchema::new("Accounts")
                .with_column(
                    ColumnSchema::data("Name", ColumnType::Text)
                        .required()
                        .unique(),
                )
                .with_column(ColumnSchema::data("ARR", ColumnType::Currency))
                .with_column(
                    ColumnSchema::data(
                        "CSM",
                        ColumnType::People {
                            table: "People".into(),
                            multiple: false,
                        },
                    )
                    .required(),
                )
                .with_column(ColumnSchema::formula(
                    "Double",
                    ColumnType::Currency,
                    "[ARR] * 2",
                )),
        );
    let mut wb = Workbook::new(&schema, clock()).unwrap();
    let people = wb.table_id("People").unwrap();
    let accounts = wb.table_id("Accounts").unwrap();
    let c = |t, n| wb.column_id(t, n).unwrap();
    let (email, role) = (c(people, "Email"), c(people, "Role"));
    let (name, arr, csm) = (c(accounts, "Name"), c(accounts, "ARR"), c(accounts, "CSM"));
    wb.import(vec![
        (
            people,
            vec![
                vec![(email, "kari@csip.test".into()), (role, "CSM".into())],
                vec![(email, "ola@csip.test".into()), (role, "AE".into())],
            ],
        ),
        (
            accounts,
            vec![
                vec![
                    (name, "Gard AS".into()),
                    (arr, Value::from(125000)),
                    (csm, "kari@csip.test".into()),
                ],
                vec![
                    (name, "Acme".into()),
                    (arr, Value::from(50000)),
                    (csm, "ola@csip.test".into()),
                ],
            ],
        ),
    ])
    .unwrap();
    Fixture { wb }
}

impl Fixture {
    fn reject(&mut self, tx: Transaction, kind: TransactionErrorKind, words: &str) {
        let before = self.wb.clone();
        let err = self.wb.apply(tx).unwrap_err();
        assert_eq!(err.kind, kind, "{err}");
        assert!(
            err.to_string().contains(words),
            "`{err}` does not say `{words}`"
        );
        for t in self.wb.tables() {
            assert_eq!(self.wb.rows(t).unwrap(), before.rows(t).unwrap());
            for &c in self.wb.columns(t).unwrap() {
                for &r in self.wb.rows(t).unwrap() {
                    assert_eq!(self.wb.value(c, r).ok(), before.value(c, r).ok(), "{err}");
                }
            }
        }
    }

    fn col(&self, table: &str, name: &str) -> (csip_engine::TableId, csip_engine::ColumnId) {
        let t = self.wb.table_id(table).unwrap();
        (t, self.wb.column_id(t, name).unwrap())
    }
}

#[test]
fn text_in_a_number_column() {
    let mut f = fixture();
    let (t, arr) = f.col("Accounts", "ARR");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(arr, row, "a lot"),
        TransactionErrorKind::WrongType,
        "row 1 (Gard AS) of `Accounts`, column `ARR`, takes a number, not text \"a lot\"",
    );
}

#[test]
fn an_option_not_in_the_select() {
    let mut f = fixture();
    let (t, role) = f.col("People", "Role");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(role, row, "Wizard"),
        TransactionErrorKind::NotAnOption,
        "has no option \"Wizard\" (options: CSM, AE)",
    );
}

#[test]
fn a_slider_out_of_range() {
    let mut f = fixture();
    let (t, score) = f.col("People", "Score");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(score, row, 11),
        TransactionErrorKind::OutOfRange,
        "from 1 to 10, not 11",
    );
}

#[test]
fn a_missing_required_value() {
    let mut f = fixture();
    let (t, name) = f.col("Accounts", "Name");
    let (_, arr) = f.col("Accounts", "ARR");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(arr, row, 1).set(name, row, ""),
        TransactionErrorKind::Required,
        "column `Name`, is required",
    );
    // An insert that leaves a required relation empty.
    f.reject(
        Transaction::new().insert(t, vec![(name, "Nord".into())]),
        TransactionErrorKind::Required,
        "column `CSM`, is required",
    );
}

#[test]
fn a_duplicate_unique_value() {
    let mut f = fixture();
    let (t, name) = f.col("Accounts", "Name");
    let row = f.wb.rows(t).unwrap()[1];
    f.reject(
        Transaction::new().set(name, row, "Gard AS"),
        TransactionErrorKind::Duplicate,
        "must be unique, but row 1 (Gard AS) already holds Gard AS",
    );
}

#[test]
fn a_relation_to_a_row_that_does_not_exist() {
    let mut f = fixture();
    let (t, csm) = f.col("Accounts", "CSM");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(csm, row, "nobody@csip.test"),
        TransactionErrorKind::UnknownReference,
        "refers to \"nobody@csip.test\", but no row of `People` is named so",
    );
}

#[test]
fn a_relation_by_a_name_in_another_case_says_which_name_was_meant() {
    let mut f = fixture();
    let (t, csm) = f.col("Accounts", "CSM");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(csm, row, "Kari@CSIP.test"),
        TransactionErrorKind::UnknownReference,
        "no row of `People` is named so; did you mean \"kari@csip.test\"?",
    );
}

#[test]
fn writing_a_formula_column_or_a_missing_row() {
    let mut f = fixture();
    let (t, double) = f.col("Accounts", "Double");
    let row = f.wb.rows(t).unwrap()[0];
    f.reject(
        Transaction::new().set(double, row, 1),
        TransactionErrorKind::NotWritable,
        "is a formula column",
    );
    f.reject(
        Transaction::new().delete(t, csip_engine::RowId::from_raw(99)),
        TransactionErrorKind::UnknownRow,
        "table `Accounts` has no row with id 99 (it was deleted, or never inserted)",
    );
}

#[test]
fn inserting_with_an_id_already_given_or_far_away() {
    let mut f = fixture();
    let (people, email) = f.col("People", "Email");
    let row = |n: u32| csip_engine::RowId::from_raw(n);
    let person = |e: &str| vec![(email, Value::from(e))];
    f.reject(
        Transaction::new().insert_with_id(people, row(2), person("ann@csip.test")),
        TransactionErrorKind::Duplicate,
        "`People` has already given row id 2 (ids are never reused; its next is 3)",
    );
    for bad in [0, u32::MAX] {
        f.reject(
            Transaction::new().insert_with_id(people, row(bad), person("ann@csip.test")),
            TransactionErrorKind::UnknownRow,
            "is not an id this table can give",
        );
    }
    // A later operation fails: the ids the insert skipped are not taken either.
    f.reject(
        Transaction::new()
            .insert_with_id(people, row(7), person("ann@csip.test"))
            .insert(people, person("kari@csip.test")),
        TransactionErrorKind::Duplicate,
        "must be unique",
    );
    assert_eq!(f.wb.next_row_id(people).unwrap(), row(3));
    let added =
        f.wb.apply(Transaction::new().insert_with_id(people, row(7), person("ann@csip.test")))
            .unwrap();
    assert_eq!(added.inserted, [(people, row(7))]);
    assert_eq!(f.wb.next_row_id(people).unwrap(), row(8));
}

#[test]
fn deleting_a_person_an_account_requires() {
    let mut f = fixture();
    let (people, _) = f.col("People", "Email");
    let kari = f.wb.rows(people).unwrap()[0];
    f.reject(
        Transaction::new().delete(people, kari),
        TransactionErrorKind::Required,
        "column `CSM`, is required",
    );
    // Deleting the account in the same transaction makes it fine.
    let (accounts, _) = f.col("Accounts", "Name");
    let gard = f.wb.rows(accounts).unwrap()[0];
    let changes =
        f.wb.apply(
            Transaction::new()
                .delete(people, kari)
                .delete(accounts, gard),
        )
        .unwrap();
    assert_eq!(changes.deleted.len(), 2);
}

#[cfg(feature = "cases")]
#[test]
fn a_malformed_case_file_names_the_line() {
    let cases = [
        (
            "[[tables]]\nname = \"T\"\ncolumns = [ { name = \"A\", type = \"number\" } ]\nrows = [[1, 2]]\n",
            4,
            "has 2 cells",
        ),
        (
            "[[tables]]\nname = \"T\"\ncolumns = [ { name = \"A\", type = \"numbr\" } ]\n",
            3,
            "unknown type \"numbr\"",
        ),
        (
            "[[cases]]\nname = \"x\"\nformula = '1'\n",
            1,
            "exactly one of `expect`",
        ),
        (
            "[[cases]]\nname = \"x\"\nformula = '1'\nexpect_error = \"oops\"\n",
            1,
            "unknown error kind \"oops\"",
        ),
        (
            "[[tables]]\nname = \"T\"\ncolumns = [ { name = \"A\", type = \"number\", requird = true } ]\n",
            3,
            "unknown field `requird`",
        ),
        ("today = \"yesterday\"\n", 1, "`today` must be a date"),
        ("[[tables]\n", 1, "not a valid case file"),
        (
            "[[tables]]\nname = \"T\"\ncolumns = [ { name = \"A\", type = \"number\" } ]\nrows = [[\"x\"]]\n",
            4,
            "takes a number, not text \"x\"",
        ),
        (
            "[[tables]]\nname = \"T\"\ncolumns = [\n  { name = \"A\", type = \"number\" },\n  { name = \"B\", type = \"number\", formula = '[Aa] + 1' },\n]\n",
            5,
            "no column `Aa` in `T`",
        ),
    ];
    for (text, line, words) in cases {
        let err = csip_engine::CaseFile::parse("bad.toml", text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(
            err.message.contains(words),
            "`{}` does not say `{words}`",
            err.message
        );
        assert!(err.to_string().contains("bad.toml:"), "{err}");
    }
}
