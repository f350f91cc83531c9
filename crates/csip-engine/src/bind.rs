//! Binding: names to ids, function names to [`Function`]s with their arity
//! checked, predicates split into conjuncts with the index key chosen.
//! Every problem is reported, not just the first.

use crate::expr::{Expr, FilterExpr, FilterMode, KeyPlan};
use crate::functions::Function;
use crate::ids::{ColumnId, TableId};
use crate::value::{ErrorKind, Value};
use csip_formula::{BinaryOp, Diagnostic, ExprKind, Span, UnaryOp};

/// What the binder knows of a value's rows: enough to resolve `.[Column]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StaticTy {
    /// Not rows, or rows of a table the binder cannot tell.
    Other,
    /// One row of a table (or Blank).
    Row(TableId),
    /// A list of rows of a table.
    Rows(TableId),
}

impl StaticTy {
    fn table(self) -> Option<TableId> {
        match self {
            StaticTy::Row(t) | StaticTy::Rows(t) => Some(t),
            StaticTy::Other => None,
        }
    }

    /// The type of `if c then a else b`: rows of one table stay rows of it.
    fn unify(self, other: StaticTy) -> StaticTy {
        match (self, other) {
            (a, b) if a == b => a,
            (StaticTy::Other, b) => b,
            (a, StaticTy::Other) => a,
            (StaticTy::Row(a) | StaticTy::Rows(a), StaticTy::Row(b) | StaticTy::Rows(b))
                if a == b =>
            {
                StaticTy::Rows(a)
            }
            _ => StaticTy::Other,
        }
    }
}

/// A formula that cannot be bound: the error kind it would be as a value, and the diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BindError {
    pub(crate) kind: ErrorKind,
    pub(crate) diagnostic: Diagnostic,
}

/// The names a formula can see, and the static types of columns.
pub(crate) trait Catalog {
    fn table_by_name(&self, name: &str) -> Option<TableId>;
    fn column_by_name(&self, table: TableId, name: &str) -> Option<ColumnId>;
    fn table_name(&self, table: TableId) -> &str;
    /// The visible columns' names, for suggestions.
    fn column_names(&self, table: TableId) -> Vec<String>;
    fn table_names(&self) -> Vec<String>;
    /// The column of the workbook's name `name`, if there is one.
    fn name_column(&self, name: &str) -> Option<ColumnId>;
    /// The table of the workbook's names (its formulas have no row).
    fn names_table(&self) -> Option<TableId>;
    /// The static type of a column's values; a formula column may be bound on demand.
    fn column_ty(&mut self, column: ColumnId) -> StaticTy;
    /// One shared copy of a text literal, so that equal literals compare by pointer.
    fn intern(&mut self, text: &str) -> std::sync::Arc<str> {
        std::sync::Arc::from(text)
    }
}

/// Where a formula is evaluated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'p> {
    /// The table whose row is `thisRow`; `None` for a formula with no row.
    pub(crate) this_table: Option<TableId>,
    /// The parameters of the view the formula belongs to (none elsewhere).
    pub(crate) params: &'p [ParamInfo],
}

/// A view parameter as the binder sees it.
#[derive(Clone, Debug)]
pub(crate) struct ParamInfo {
    pub(crate) name: String,
    pub(crate) ty: StaticTy,
}

/// Binds a parsed formula.
pub(crate) fn bind(
    ast: &csip_formula::Expr,
    scope: Scope<'_>,
    catalog: &mut dyn Catalog,
) -> Result<(Expr, StaticTy), Vec<BindError>> {
    let mut binder = Binder::new(scope, catalog);
    let (expr, ty) = binder.expr(ast);
    if binder.errors.is_empty() {
        Ok((expr, ty))
    } else {
        Err(binder.errors)
    }
}

/// What a `[Name]` (or `.[Column]`) written in a formula resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameRef {
    Column(ColumnId),
    Table(TableId),
}

/// Every name a formula names, with where it is written (brackets
/// included) and what it resolved to, as binding resolves them; names that
/// do not resolve are left out.
pub(crate) fn references(
    ast: &csip_formula::Expr,
    scope: Scope<'_>,
    catalog: &mut dyn Catalog,
) -> Vec<(Span, NameRef)> {
    let mut binder = Binder::new(scope, catalog);
    binder.expr(ast);
    binder.refs
}

struct Binder<'c> {
    catalog: &'c mut dyn Catalog,
    this_table: Option<TableId>,
    params: &'c [ParamInfo],
    /// The item tables of the enclosing predicates, innermost last.
    items: Vec<Option<TableId>>,
    errors: Vec<BindError>,
    /// The names resolved, where they are written.
    refs: Vec<(Span, NameRef)>,
}

const POISON: Expr = Expr::Lit(Value::Blank);

impl<'c> Binder<'c> {
    fn new(scope: Scope<'c>, catalog: &'c mut dyn Catalog) -> Binder<'c> {
        Binder {
            catalog,
            this_table: scope.this_table,
            params: scope.params,
            items: Vec::new(),
            errors: Vec::new(),
            refs: Vec::new(),
        }
    }

    /// `Param("name")` and `CurrentUser()` (the parameter `user`).
    fn param(&mut self, name: Option<&str>, span: Span) -> (Expr, StaticTy) {
        let Some(name) = name else {
            return self.error(
                ErrorKind::InvalidArgument,
                Diagnostic::error(
                    span,
                    "`Param` takes the parameter's name as text: `Param(\"account\")`",
                ),
            );
        };
        match self
            .params
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(i) => (
                Expr::Param(u8::try_from(i).unwrap_or(u8::MAX)),
                self.params[i].ty,
            ),
            None if self.params.is_empty() => self.error(
                ErrorKind::UnknownName,
                Diagnostic::error(span, format!("there is no parameter `{name}` here"))
                    .with_hint("parameters belong to views; declare them in the view's `params`"),
            ),
            None => {
                let names: Vec<String> = self.params.iter().map(|p| p.name.clone()).collect();
                let mut d = Diagnostic::error(span, format!("this view has no parameter `{name}`"));
                if let Some(s) = did_you_mean(name, names.clone()) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_hint(format!("its parameters: {}", names.join(", ")));
                }
                self.error(ErrorKind::UnknownName, d)
            }
        }
    }

    fn error(&mut self, kind: ErrorKind, diagnostic: Diagnostic) -> (Expr, StaticTy) {
        self.errors.push(BindError { kind, diagnostic });
        (POISON, StaticTy::Other)
    }

    fn expr(&mut self, e: &csip_formula::Expr) -> (Expr, StaticTy) {
        match &e.kind {
            ExprKind::Number(n) => (Expr::Lit(Value::Number(*n)), StaticTy::Other),
            ExprKind::Text(t) => (Expr::Lit(Value::Text(self.catalog.intern(t))), StaticTy::Other),
            ExprKind::Bool(b) => (Expr::Lit(Value::Bool(*b)), StaticTy::Other),
            ExprKind::Name(name) => self.name(&name.text, name.span),
            ExprKind::ThisRow | ExprKind::ThisTable
                if self.this_table.is_some() && self.this_table == self.catalog.names_table() =>
            {
                self.error(
                    ErrorKind::UnknownName,
                    Diagnostic::error(e.span, "a named formula has no row or table of its own")
                        .with_hint("name a table (`[Accounts]`) or another name (`[Target]`)"),
                )
            }
            ExprKind::ThisRow => match self.this_table {
                Some(t) => (Expr::ThisRow, StaticTy::Row(t)),
                None => self.error(
                    ErrorKind::UnknownName,
                    Diagnostic::error(e.span, "`thisRow` has no row here")
                        .with_label("no row")
                        .with_hint("evaluate the formula on a row of a table (a formula column, or `--table T --row N`)"),
                ),
            },
            ExprKind::ThisTable => match self.this_table {
                Some(t) => (Expr::Table(t), StaticTy::Rows(t)),
                None => self.error(
                    ErrorKind::UnknownName,
                    Diagnostic::error(e.span, "`thisTable` has no table here")
                        .with_hint("use `[Table]` to name a table"),
                ),
            },
            ExprKind::CurrentValue => match self.items.last() {
                Some(table) => {
                    let level = self.level();
                    let ty = table.map_or(StaticTy::Other, StaticTy::Row);
                    (Expr::Item { level }, ty)
                }
                None => self.error(
                    ErrorKind::UnknownName,
                    Diagnostic::error(e.span, "`CurrentValue` is only defined inside a predicate")
                        .with_hint("use it in the second argument of `Filter`, `CountIf` or `Lookup`"),
                ),
            },
            ExprKind::Project { target, column } => {
                let errors_before = self.errors.len();
                let (target_expr, ty) = self.expr(target);
                let Some(table) = ty.table() else {
                    if self.errors.len() == errors_before {
                        return self.error(
                            ErrorKind::TypeMismatch,
                            Diagnostic::error(
                                column.span,
                                format!("`.[{}]` needs a row or a list of rows on its left", column.text),
                            )
                            .with_label("not a row")
                            .with_hint("project from a relation column, a table, `thisRow`, or `Filter(...)`"),
                        );
                    }
                    return (POISON, StaticTy::Other);
                };
                let Some(col) = self.catalog.column_by_name(table, &column.text) else {
                    return self.unknown_column(table, &column.text, column.span, false);
                };
                self.refs.push((column.span, NameRef::Column(col)));
                let col_ty = self.catalog.column_ty(col);
                let result_ty = match (ty, col_ty) {
                    (StaticTy::Row(_), t) => t,
                    (_, StaticTy::Row(t) | StaticTy::Rows(t)) => StaticTy::Rows(t),
                    _ => StaticTy::Other,
                };
                // `thisRow.[C]` is `[C]`, `CurrentValue.[C]` the item's `[C]`.
                let node = match target_expr {
                    Expr::ThisRow => Expr::Col(col),
                    Expr::Item { level } => Expr::ItemCol { level, col },
                    target => Expr::Project {
                        target: Box::new(target),
                        col,
                    },
                };
                (node, result_ty)
            }
            ExprKind::Unary { op, operand } => {
                let (x, _) = self.expr(operand);
                let node = match op {
                    UnaryOp::Neg => Expr::Neg(Box::new(x)),
                    UnaryOp::Not => Expr::Not(Box::new(x)),
                };
                (node, StaticTy::Other)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, _) = self.expr(lhs);
                let (r, _) = self.expr(rhs);
                (Expr::Binary(*op, Box::new(l), Box::new(r)), StaticTy::Other)
            }
            ExprKind::Call { name, args, .. } => self.call(name, args, e.span),
        }
    }

    fn level(&self) -> u8 {
        u8::try_from(self.items.len().saturating_sub(1)).unwrap_or(u8::MAX)
    }

    fn name(&mut self, text: &str, span: Span) -> (Expr, StaticTy) {
        if let Some(item_table) = self.items.last().copied() {
            if let Some(table) = item_table {
                if let Some(col) = self.catalog.column_by_name(table, text) {
                    self.refs.push((span, NameRef::Column(col)));
                    let ty = self.catalog.column_ty(col);
                    let level = self.level();
                    return (Expr::ItemCol { level, col }, ty);
                }
            }
            if let Some(t) = self.catalog.table_by_name(text) {
                self.refs.push((span, NameRef::Table(t)));
                return (Expr::Table(t), StaticTy::Rows(t));
            }
            if let Some(named) = self.named(text, span) {
                return named;
            }
            return match item_table {
                Some(table) => self.unknown_column(table, text, span, true),
                None => self.error(
                    ErrorKind::UnknownName,
                    Diagnostic::error(
                        span,
                        format!("no table `{text}`, and the items here are not rows"),
                    )
                    .with_label("unknown name")
                    .with_hint("use `CurrentValue` for the item being tested"),
                ),
            };
        }
        if let Some(table) = self.this_table {
            if let Some(col) = self.catalog.column_by_name(table, text) {
                self.refs.push((span, NameRef::Column(col)));
                let ty = self.catalog.column_ty(col);
                return (Expr::Col(col), ty);
            }
            if let Some(t) = self.catalog.table_by_name(text) {
                self.refs.push((span, NameRef::Table(t)));
                return (Expr::Table(t), StaticTy::Rows(t));
            }
            if let Some(named) = self.named(text, span) {
                return named;
            }
            return self.unknown_column(table, text, span, false);
        }
        if let Some(t) = self.catalog.table_by_name(text) {
            self.refs.push((span, NameRef::Table(t)));
            return (Expr::Table(t), StaticTy::Rows(t));
        }
        if let Some(named) = self.named(text, span) {
            return named;
        }
        let mut d =
            Diagnostic::error(span, format!("no table `{text}`")).with_label("unknown name");
        if let Some(s) = did_you_mean(text, self.catalog.table_names()) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        } else {
            d = d.with_hint("a column can only be read on a row: pass a table and a row");
        }
        self.error(ErrorKind::UnknownName, d)
    }

    /// `[Name]` as one of the workbook's names: its one value.
    fn named(&mut self, text: &str, span: Span) -> Option<(Expr, StaticTy)> {
        let col = self.catalog.name_column(text)?;
        self.refs.push((span, NameRef::Column(col)));
        let ty = self.catalog.column_ty(col);
        Some((Expr::Named(col), ty))
    }

    fn unknown_column(
        &mut self,
        table: TableId,
        text: &str,
        span: Span,
        in_predicate: bool,
    ) -> (Expr, StaticTy) {
        let table_name = self.catalog.table_name(table).to_string();
        let mut d = Diagnostic::error(
            span,
            if in_predicate {
                format!("no column `{text}` in `{table_name}` (the items this predicate tests)")
            } else {
                format!("no column `{text}` in `{table_name}`")
            },
        )
        .with_label("unknown column");
        let mut candidates = self.catalog.column_names(table);
        if !in_predicate {
            candidates.extend(self.catalog.table_names());
        }
        if let Some(s) = did_you_mean(text, candidates) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        if in_predicate {
            if let Some(this) = self.this_table {
                if self.catalog.column_by_name(this, text).is_some() {
                    d = d.with_hint(format!(
                        "to read this row's own column, write `thisRow.[{text}]`"
                    ));
                }
            }
        }
        self.error(ErrorKind::UnknownName, d)
    }

    fn call(
        &mut self,
        name: &csip_formula::Name,
        args: &[csip_formula::Expr],
        span: Span,
    ) -> (Expr, StaticTy) {
        let Some(sig) = Function::signature_by_name(&name.text) else {
            // Bind the arguments anyway, to report their problems too.
            for a in args {
                self.expr(a);
            }
            let mut d = Diagnostic::error(name.span, format!("no function `{}`", name.text))
                .with_label("unknown function");
            if let Some(s) =
                did_you_mean(&name.text, Function::names().map(str::to_string).collect())
            {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            return self.error(ErrorKind::UnknownName, d);
        };
        if !sig.accepts(args.len()) {
            for a in args {
                self.expr(a);
            }
            return self.error(
                ErrorKind::InvalidArgument,
                Diagnostic::error(
                    span,
                    format!(
                        "`{}` {}, but was given {}",
                        sig.name,
                        sig.arity_text(),
                        args.len()
                    ),
                )
                .with_label("wrong number of arguments"),
            );
        }
        let function = sig.function;
        match function {
            Function::Param => {
                let name = match &args[0].kind {
                    ExprKind::Text(t) => Some(t.as_str()),
                    _ => None,
                };
                self.param(name, span)
            }
            Function::CurrentUser => self.param(Some("user"), span),
            Function::Filter | Function::CountIf => {
                let mode = if function == Function::Filter {
                    FilterMode::Filter
                } else {
                    FilterMode::CountIf
                };
                self.filter(mode, &args[0], FilterPredicate::Expr(&args[1]))
            }
            Function::Lookup if args.len() == 2 => self.filter(
                FilterMode::Lookup,
                &args[0],
                FilterPredicate::Expr(&args[1]),
            ),
            Function::Lookup => match &args[1].kind {
                ExprKind::Name(column) => self.filter(
                    FilterMode::Lookup,
                    &args[0],
                    FilterPredicate::ColumnEquals(column, &args[2]),
                ),
                _ => {
                    self.expr(&args[0]);
                    self.expr(&args[2]);
                    self.error(
                        ErrorKind::InvalidArgument,
                        Diagnostic::error(args[1].span, "`Lookup`'s second argument must name a column: `[Column]`")
                            .with_hint("write `Lookup([Table], [Column], value)` or `Lookup([Table], predicate)`"),
                    )
                }
            },
            _ => {
                let mut bound = Vec::with_capacity(args.len());
                let mut tys = Vec::with_capacity(args.len());
                for a in args {
                    let (e, t) = self.expr(a);
                    bound.push(e);
                    tys.push(t);
                }
                let ty = result_ty(function, &tys);
                (Expr::Call(function, bound.into_boxed_slice()), ty)
            }
        }
    }

    fn filter(
        &mut self,
        mode: FilterMode,
        source: &csip_formula::Expr,
        predicate: FilterPredicate<'_>,
    ) -> (Expr, StaticTy) {
        let (source_expr, source_ty) = self.expr(source);
        let item_table = source_ty.table();
        // Lookup's value is an outer expression: bind it before entering the predicate.
        let lookup_value = match predicate {
            FilterPredicate::ColumnEquals(_, value) => Some(self.expr(value).0),
            FilterPredicate::Expr(_) => None,
        };
        if self.items.len() >= usize::from(u8::MAX) {
            return self.error(
                ErrorKind::InvalidArgument,
                Diagnostic::error(source.span, "predicates nest too deeply"),
            );
        }
        self.items.push(item_table);
        let level = self.level();
        let conjuncts = match predicate {
            FilterPredicate::Expr(p) => {
                let (pred, _) = self.expr(p);
                split_conjuncts(pred)
            }
            FilterPredicate::ColumnEquals(column, _) => {
                let item_col = match item_table {
                    Some(table) => match self.catalog.column_by_name(table, &column.text) {
                        Some(col) => {
                            self.refs.push((column.span, NameRef::Column(col)));
                            Expr::ItemCol { level, col }
                        }
                        None => {
                            self.unknown_column(table, &column.text, column.span, true)
                                .0
                        }
                    },
                    None => {
                        self.error(
                            ErrorKind::TypeMismatch,
                            Diagnostic::error(
                                source.span,
                                "`Lookup` with a column needs a table or a list of rows",
                            ),
                        )
                        .0
                    }
                };
                vec![Expr::Binary(
                    BinaryOp::Eq,
                    Box::new(item_col),
                    Box::new(lookup_value.unwrap_or(POISON)),
                )]
            }
        };
        self.items.pop();
        let (conjuncts, key) = choose_key(conjuncts, level);
        let key = if matches!(source_expr, Expr::Table(_)) {
            key
        } else {
            None
        };
        let ty = match (mode, item_table) {
            (FilterMode::Filter, Some(t)) => StaticTy::Rows(t),
            (FilterMode::Lookup, Some(t)) => StaticTy::Row(t),
            _ => StaticTy::Other,
        };
        (
            Expr::Filter(Box::new(FilterExpr {
                mode,
                source: source_expr,
                item_table,
                level,
                conjuncts,
                key,
            })),
            ty,
        )
    }
}

enum FilterPredicate<'a> {
    Expr(&'a csip_formula::Expr),
    ColumnEquals(&'a csip_formula::Name, &'a csip_formula::Expr),
}

fn result_ty(function: Function, tys: &[StaticTy]) -> StaticTy {
    let row_of = |t: StaticTy| t.table().map_or(StaticTy::Other, StaticTy::Row);
    let rows_of = |t: StaticTy| t.table().map_or(StaticTy::Other, StaticTy::Rows);
    let unify_all =
        |it: &mut dyn Iterator<Item = StaticTy>| it.fold(StaticTy::Other, StaticTy::unify);
    match function {
        Function::First | Function::Last | Function::Nth => row_of(tys[0]),
        Function::Sort | Function::Unique => rows_of(tys[0]),
        Function::List => rows_of(unify_all(&mut tys.iter().copied())),
        Function::If => unify_all(&mut tys.iter().skip(1).copied()),
        Function::IfError | Function::IfBlank => unify_all(&mut tys.iter().copied()),
        Function::Switch => {
            let n = tys.len();
            let results = (2..n)
                .step_by(2)
                .chain(if n % 2 == 0 { Some(n - 1) } else { None });
            unify_all(&mut results.map(|i| tys[i]))
        }
        Function::SwitchIf => {
            let n = tys.len();
            let results = (1..n)
                .step_by(2)
                .chain(if n % 2 == 1 { Some(n - 1) } else { None });
            unify_all(&mut results.map(|i| tys[i]))
        }
        _ => StaticTy::Other,
    }
}

/// `a AND b AND c` and `And(a, b, c)` as `[a, b, c]`.
fn split_conjuncts(e: Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary(BinaryOp::And, l, r) => {
                stack.push(*r);
                stack.push(*l);
            }
            Expr::Call(Function::And, args) => stack.extend(args.into_vec().into_iter().rev()),
            other => out.push(other),
        }
    }
    out
}

/// Picks the key conjunct (an equality between the item and the outer row) and
/// moves it first. Prefers one whose outer side reads the formula's row.
fn choose_key(mut conjuncts: Vec<Expr>, level: u8) -> (Vec<Expr>, Option<KeyPlan>) {
    let mut best: Option<(usize, KeyPlan, bool)> = None;
    for (i, c) in conjuncts.iter().enumerate() {
        let Expr::Binary(BinaryOp::Eq, l, r) = c else {
            continue;
        };
        let plan = if is_item_side(l, level) && is_outer_side(r, level) {
            Some((to_row_scope(l, level), (**r).clone()))
        } else if is_item_side(r, level) && is_outer_side(l, level) {
            Some((to_row_scope(r, level), (**l).clone()))
        } else {
            None
        };
        let Some((item_key, outer_key)) = plan else {
            continue;
        };
        let reads_row = reads_this_row(&outer_key);
        let better = match &best {
            None => true,
            Some((_, _, best_reads_row)) => reads_row && !best_reads_row,
        };
        if better {
            best = Some((
                i,
                KeyPlan {
                    item_key,
                    outer_key,
                    plan: None,
                },
                reads_row,
            ));
        }
    }
    match best {
        Some((i, key, _)) => {
            let c = conjuncts.remove(i);
            conjuncts.insert(0, c);
            (conjuncts, Some(key))
        }
        None => (conjuncts, None),
    }
}

/// Reads the item at `level` and nothing of the outer row, no clock, no nested predicate.
fn is_item_side(e: &Expr, level: u8) -> bool {
    let mut reads_item = false;
    let mut ok = true;
    e.walk(&mut |n| match n {
        Expr::ItemCol { level: l, .. } | Expr::Item { level: l } => {
            reads_item |= *l == level;
            ok &= *l == level;
        }
        Expr::ThisRow | Expr::Col(_) | Expr::Filter(_) => ok = false,
        Expr::Call(f, _) if f.is_volatile() => ok = false,
        _ => {}
    });
    ok && reads_item
}

/// Reads nothing but the item at `level` (and constants, and the clock): a
/// conjunct that can be computed once per item, as a column of the item's table.
pub(crate) fn is_item_only(e: &Expr, level: u8) -> bool {
    let mut ok = true;
    e.walk(&mut |n| match n {
        Expr::ItemCol { level: l, .. } | Expr::Item { level: l } => ok &= *l == level,
        Expr::ThisRow | Expr::Col(_) | Expr::Filter(_) | Expr::Param(_) | Expr::Table(_) => {
            ok = false
        }
        _ => {}
    });
    ok
}

/// Reads no item and no nested predicate.
fn is_outer_side(e: &Expr, _level: u8) -> bool {
    let mut ok = true;
    e.walk(&mut |n| {
        if matches!(
            n,
            Expr::ItemCol { .. } | Expr::Item { .. } | Expr::Filter(_)
        ) {
            ok = false;
        }
    });
    ok
}

fn reads_this_row(e: &Expr) -> bool {
    let mut reads = false;
    e.walk(&mut |n| reads |= matches!(n, Expr::ThisRow | Expr::Col(_)));
    reads
}

/// The item side as a formula of the item's own row.
pub(crate) fn to_row_scope(e: &Expr, level: u8) -> Expr {
    match e {
        Expr::ItemCol { level: l, col } if *l == level => Expr::Col(*col),
        Expr::Item { level: l } if *l == level => Expr::ThisRow,
        Expr::Project { target, col } => match to_row_scope(target, level) {
            Expr::ThisRow => Expr::Col(*col),
            target => Expr::Project {
                target: Box::new(target),
                col: *col,
            },
        },
        Expr::Neg(x) => Expr::Neg(Box::new(to_row_scope(x, level))),
        Expr::Not(x) => Expr::Not(Box::new(to_row_scope(x, level))),
        Expr::Binary(op, l, r) => Expr::Binary(
            *op,
            Box::new(to_row_scope(l, level)),
            Box::new(to_row_scope(r, level)),
        ),
        Expr::Call(f, args) => {
            Expr::Call(*f, args.iter().map(|a| to_row_scope(a, level)).collect())
        }
        other => other.clone(),
    }
}

/// The closest candidate by edit distance (case-insensitive), if it is close enough.
pub(crate) fn did_you_mean(name: &str, candidates: Vec<String>) -> Option<String> {
    let lower = name.trim().to_lowercase();
    let limit = (lower.chars().count() / 3).max(1);
    let close = candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone());
    // Else a name that begins with what was written (`People` for `People_Team`).
    close.or_else(|| {
        candidates
            .iter()
            .filter(|c| lower.len() >= 3 && c.to_lowercase().starts_with(&lower))
            .min_by_key(|c| c.len())
            .cloned()
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let cands = vec![
            "Health_Score".to_string(),
            "ARR".to_string(),
            "Account_Name".to_string(),
        ];
        assert_eq!(
            did_you_mean("Helth_Score", cands.clone()).as_deref(),
            Some("Health_Score")
        );
        assert_eq!(did_you_mean("arr", cands.clone()).as_deref(), Some("ARR"));
        assert_eq!(did_you_mean("Zebra", cands), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
