//! Default catalogues and templates loaded from `mappings/`: maintenance plans, trades with
//! their conditions, and reminder note templates. See `mappings/README.md` for the formats.
//!
//! Loading validates everything; an error names the file, the line and the reason, e.g.
//! `mappings/trades.toml:14: duplicate condition code 'noisy' in trade 'cooling'`.
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::domain::reminders::{self, AlertKind, TemplateError};

const PLANS: &str = "plans.toml";
const TRADES: &str = "trades.toml";
const REMINDERS: &str = "reminders.toml";

/// A catalogue file that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or breaks a rule.
    #[error("{file}:{line}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the offending key (1 when the whole file is at fault).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A maintenance plan on our side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Stable code (mappings are stored by it).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Description; may be empty.
    pub description: String,
}

/// A trade condition (e.g. cooling → not cooling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// Stable code, unique within its trade.
    pub code: String,
    /// Display label.
    pub label: String,
}

/// A trade with its conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trade {
    /// Stable code.
    pub code: String,
    /// Display label.
    pub label: String,
    /// At least one condition.
    pub conditions: Vec<Condition>,
}

impl Trade {
    /// The condition with `code`.
    pub fn condition(&self, code: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.code == code)
    }
}

/// A job-note template for one alert kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReminderTemplate {
    /// The alert kind.
    pub alert: AlertKind,
    /// Template text with `{placeholders}`.
    pub text: String,
    /// The placeholders it uses (all in [`reminders::TEMPLATE_VARS`]).
    pub placeholders: Vec<String>,
}

/// The validated catalogues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    plans: Vec<Plan>,
    trades: Vec<Trade>,
    /// One per alert kind, in [`AlertKind::ALL`] order.
    reminders: Vec<ReminderTemplate>,
}

impl Catalog {
    /// Loads and validates `plans.toml`, `trades.toml` and `reminders.toml` from `dir`.
    pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let file = path.display().to_string();
            std::fs::read_to_string(&path)
                .map(|text| (file.clone(), text))
                .map_err(|source| CatalogError::Io { file, source })
        };
        let (pf, pt) = read(PLANS)?;
        let (tf, tt) = read(TRADES)?;
        let (rf, rt) = read(REMINDERS)?;
        Self::parse(
            Source::new(&pf, &pt),
            Source::new(&tf, &tt),
            Source::new(&rf, &rt),
        )
    }

    /// The catalogues compiled into the binary (the `mappings/` files of this source tree),
    /// so the program works from any directory.
    pub fn embedded() -> Result<Catalog, CatalogError> {
        Self::parse(
            Source::new(
                "mappings/plans.toml",
                include_str!("../../mappings/plans.toml"),
            ),
            Source::new(
                "mappings/trades.toml",
                include_str!("../../mappings/trades.toml"),
            ),
            Source::new(
                "mappings/reminders.toml",
                include_str!("../../mappings/reminders.toml"),
            ),
        )
    }

    /// Parses and validates the three files from text (`file` names appear in errors).
    pub fn parse(
        plans: Source<'_>,
        trades: Source<'_>,
        reminders: Source<'_>,
    ) -> Result<Catalog, CatalogError> {
        Ok(Catalog {
            plans: parse_plans(plans)?,
            trades: parse_trades(trades)?,
            reminders: parse_reminders(reminders)?,
        })
    }

    /// Every plan, in file order.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan with `code`.
    pub fn plan(&self, code: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.code == code)
    }

    /// Every trade, in file order.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// The trade with `code`.
    pub fn trade(&self, code: &str) -> Option<&Trade> {
        self.trades.iter().find(|t| t.code == code)
    }

    /// The (trade, condition) with these codes.
    pub fn condition(&self, trade: &str, condition: &str) -> Option<(&Trade, &Condition)> {
        let t = self.trade(trade)?;
        Some((t, t.condition(condition)?))
    }

    /// Every (trade, condition) pair, in file order.
    pub fn trade_conditions(&self) -> impl Iterator<Item = (&Trade, &Condition)> {
        self.trades
            .iter()
            .flat_map(|t| t.conditions.iter().map(move |c| (t, c)))
    }

    /// Every reminder template, in [`AlertKind::ALL`] order.
    pub fn reminder_templates(&self) -> &[ReminderTemplate] {
        &self.reminders
    }

    /// The template for `alert` (validation guarantees one per kind).
    pub fn reminder_template(&self, alert: AlertKind) -> Option<&ReminderTemplate> {
        self.reminders.iter().find(|r| r.alert == alert)
    }

    /// Renders the note text for `alert` (without its marker).
    pub fn render_reminder(
        &self,
        alert: AlertKind,
        vars: &BTreeMap<&str, String>,
    ) -> Result<String, TemplateError> {
        let tpl = self
            .reminder_template(alert)
            .ok_or_else(|| TemplateError::MissingValue(alert.as_str().to_owned()))?;
        reminders::render(&tpl.text, vars)
    }
}

/// One file's name (for errors) and text.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Shown in errors.
    pub file: &'a str,
    /// The TOML text.
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// A named source.
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Self { file, text }
    }

    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn err_at(&self, offset: usize, reason: impl fmt::Display) -> CatalogError {
        CatalogError::Invalid {
            file: self.file.to_owned(),
            line: self.line_of(offset),
            reason: reason.to_string(),
        }
    }

    fn err<T>(&self, at: &Spanned<T>, reason: impl fmt::Display) -> CatalogError {
        self.err_at(at.span().start, reason)
    }

    fn toml<T: for<'de> Deserialize<'de>>(&self) -> Result<T, CatalogError> {
        toml::from_str(self.text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            self.err_at(at, e.message().trim())
        })
    }

    /// Checks a code's shape: `[a-z][a-z0-9_]*`.
    fn code(&self, what: &str, code: &Spanned<String>) -> Result<String, CatalogError> {
        let c = code.get_ref();
        let ok = c.starts_with(|ch: char| ch.is_ascii_lowercase())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !ok {
            return Err(self.err(
                code,
                format!(
                    "{what} code '{c}' must be lowercase letters, digits and '_', starting with a letter"
                ),
            ));
        }
        Ok(c.clone())
    }

    fn non_empty(&self, what: &str, v: &Spanned<String>) -> Result<String, CatalogError> {
        let t = v.get_ref().trim();
        if t.is_empty() {
            return Err(self.err(v, format!("{what} must not be empty")));
        }
        Ok(t.to_owned())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    #[serde(default)]
    plan: Vec<PlanDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanDef {
    code: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TradesFile {
    #[serde(default)]
    trade: Vec<TradeDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TradeDef {
    code: Spanned<String>,
    label: Spanned<String>,
    conditions: Spanned<Vec<ConditionDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionDef {
    code: Spanned<String>,
    label: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemindersFile {
    #[serde(default)]
    template: Vec<TemplateDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateDef {
    alert: Spanned<String>,
    text: Spanned<String>,
}

fn parse_plans(src: Source<'_>) -> Result<Vec<Plan>, CatalogError> {
    let file: PlansFile = src.toml()?;
    if file.plan.is_empty() {
        return Err(src.err_at(0, "no plans defined (add a [[plan]] table)"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in file.plan {
        let code = src.code("plan", &p.code)?;
        if !seen.insert(code.clone()) {
            return Err(src.err(&p.code, format!("duplicate plan code '{code}'")));
        }
        out.push(Plan {
            name: src.non_empty(&format!("name of plan '{code}'"), &p.name)?,
            code,
            description: p.description.trim().to_owned(),
        });
    }
    Ok(out)
}

fn parse_trades(src: Source<'_>) -> Result<Vec<Trade>, CatalogError> {
    let file: TradesFile = src.toml()?;
    if file.trade.is_empty() {
        return Err(src.err_at(0, "no trades defined (add a [[trade]] table)"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in file.trade {
        let code = src.code("trade", &t.code)?;
        if !seen.insert(code.clone()) {
            return Err(src.err(&t.code, format!("duplicate trade code '{code}'")));
        }
        let label = src.non_empty(&format!("label of trade '{code}'"), &t.label)?;
        if t.conditions.get_ref().is_empty() {
            return Err(src.err(&t.conditions, format!("trade '{code}' has no conditions")));
        }
        let mut seen_c = HashSet::new();
        let mut conditions = Vec::new();
        for c in t.conditions.into_inner() {
            let cc = src.code("condition", &c.code)?;
            if !seen_c.insert(cc.clone()) {
                return Err(src.err(
                    &c.code,
                    format!("duplicate condition code '{cc}' in trade '{code}'"),
                ));
            }
            conditions.push(Condition {
                label: src.non_empty(&format!("label of condition '{code}/{cc}'"), &c.label)?,
                code: cc,
            });
        }
        out.push(Trade {
            code,
            label,
            conditions,
        });
    }
    Ok(out)
}

fn parse_reminders(src: Source<'_>) -> Result<Vec<ReminderTemplate>, CatalogError> {
    let file: RemindersFile = src.toml()?;
    let mut by_kind: BTreeMap<AlertKind, ReminderTemplate> = BTreeMap::new();
    for t in file.template {
        let alert: AlertKind = t.alert.get_ref().parse().map_err(|_| {
            let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            src.err(
                &t.alert,
                format!(
                    "unknown alert kind '{}' (known: {})",
                    t.alert.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        if by_kind.contains_key(&alert) {
            return Err(src.err(&t.alert, format!("duplicate template for alert '{alert}'")));
        }
        let text = src.non_empty(&format!("text of template '{alert}'"), &t.text)?;
        let placeholders = reminders::check_template(&text, &reminders::TEMPLATE_VARS)
            .map_err(|e| src.err(&t.text, format!("template '{alert}': {e}")))?;
        by_kind.insert(
            alert,
            ReminderTemplate {
                alert,
                text,
                placeholders,
            },
        );
    }
    let mut out = Vec::new();
    for kind in AlertKind::ALL {
        match by_kind.remove(&kind) {
            Some(t) => out.push(t),
            None => {
                return Err(src.err_at(
                    src.text.len(),
                    format!("missing template for alert '{kind}'"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_PLANS: &str = include_str!("../../mappings/plans.toml");
    const GOOD_TRADES: &str = include_str!("../../mappings/trades.toml");
    const GOOD_REMINDERS: &str = include_str!("../../mappings/reminders.toml");

    fn parse(plans: &str, trades: &str, reminders: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(
            Source::new("plans.toml", plans),
            Source::new("trades.toml", trades),
            Source::new("reminders.toml", reminders),
        )
    }

    /// The error as `(file, line, reason)`.
    fn invalid(r: Result<Catalog, CatalogError>) -> (String, usize, String) {
        match r {
            Err(CatalogError::Invalid { file, line, reason }) => (file, line, reason),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn embedded_catalogue_is_valid() {
        let c = Catalog::embedded().expect("embedded catalogue");
        let codes: Vec<&str> = c.plans().iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["basic", "plus", "premium"]);
        let (t, cond) = c.condition("cooling", "not_cooling").unwrap();
        assert_eq!(
            (t.label.as_str(), cond.label.as_str()),
            ("Cooling", "Not cooling")
        );
        assert!(c.condition("heating", "short_cycling").is_some());
        assert!(c.condition("air_quality", "filter_change").is_some());
        assert!(c.condition("cooling", "no_heat").is_none());
        assert!(c.trade_conditions().count() >= 10);
        for k in AlertKind::ALL {
            assert_eq!(c.reminder_template(k).map(|t| t.alert), Some(k));
        }
    }

    #[test]
    fn load_from_directory_matches_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        assert_eq!(Catalog::load(&dir).unwrap(), Catalog::embedded().unwrap());
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_file() {
        let err = Catalog::load(Path::new("/nonexistent/titanbridge")).unwrap_err();
        assert!(matches!(err, CatalogError::Io { .. }));
        assert!(err.to_string().contains("plans.toml"), "{err}");
    }

    #[test]
    fn renders_a_reminder() {
        let c = Catalog::embedded().unwrap();
        let vars: BTreeMap<&str, String> = reminders::TEMPLATE_VARS
            .iter()
            .map(|v| (*v, format!("<{v}>")))
            .collect();
        let text = c.render_reminder(AlertKind::HubOffline, &vars).unwrap();
        assert!(
            text.contains("<location_name>") && text.contains("<since>"),
            "{text}"
        );
        assert!(!text.contains('{') && !text.contains('\n'), "{text}");
    }

    #[test]
    fn toml_syntax_error_names_line() {
        let bad = "[[plan]]\ncode = \"basic\"\nname = \"Basic\n";
        let (file, line, reason) = invalid(parse(bad, GOOD_TRADES, GOOD_REMINDERS));
        assert_eq!((file.as_str(), line), ("plans.toml", 3));
        assert!(!reason.is_empty());
    }

    #[test]
    fn unknown_key_is_refused() {
        let bad = "[[plan]]\ncode = \"basic\"\nname = \"Basic\"\nprice = 10\n";
        let (_, line, reason) = invalid(parse(bad, GOOD_TRADES, GOOD_REMINDERS));
        assert_eq!(line, 4);
        assert!(reason.contains("price"), "{reason}");
    }

    #[test]
    fn duplicate_plan_code() {
        let bad = "[[plan]]\ncode = \"basic\"\nname = \"A\"\n\n[[plan]]\ncode = \"basic\"\nname = \"B\"\n";
        let err = parse(bad, GOOD_TRADES, GOOD_REMINDERS).unwrap_err();
        assert_eq!(err.to_string(), "plans.toml:6: duplicate plan code 'basic'");
    }

    #[test]
    fn empty_plan_name() {
        let bad = "[[plan]]\ncode = \"basic\"\nname = \"  \"\n";
        let (_, line, reason) = invalid(parse(bad, GOOD_TRADES, GOOD_REMINDERS));
        assert_eq!(line, 3);
        assert_eq!(reason, "name of plan 'basic' must not be empty");
    }

    #[test]
    fn no_plans() {
        let (_, line, reason) = invalid(parse("# nothing\n", GOOD_TRADES, GOOD_REMINDERS));
        assert_eq!(line, 1);
        assert!(reason.contains("no plans"));
    }

    #[test]
    fn bad_code_shape() {
        let bad = "[[plan]]\ncode = \"Gold Plan\"\nname = \"Gold\"\n";
        let (_, line, reason) = invalid(parse(bad, GOOD_TRADES, GOOD_REMINDERS));
        assert_eq!(line, 2);
        assert!(reason.contains("'Gold Plan'"), "{reason}");
    }

    #[test]
    fn duplicate_trade_code() {
        let bad = "[[trade]]\ncode = \"cooling\"\nlabel = \"Cooling\"\nconditions = [{ code = \"a\", label = \"A\" }]\n\
                   [[trade]]\ncode = \"cooling\"\nlabel = \"Again\"\nconditions = [{ code = \"a\", label = \"A\" }]\n";
        let err = parse(GOOD_PLANS, bad, GOOD_REMINDERS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "trades.toml:6: duplicate trade code 'cooling'"
        );
    }

    #[test]
    fn duplicate_condition_code_within_a_trade() {
        let bad = "[[trade]]\ncode = \"cooling\"\nlabel = \"Cooling\"\nconditions = [\n  { code = \"noisy\", label = \"Noisy\" },\n  { code = \"noisy\", label = \"Loud\" },\n]\n";
        let err = parse(GOOD_PLANS, bad, GOOD_REMINDERS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "trades.toml:6: duplicate condition code 'noisy' in trade 'cooling'"
        );
    }

    #[test]
    fn same_condition_code_in_two_trades_is_fine() {
        let c = Catalog::embedded().unwrap();
        assert!(c.condition("cooling", "tune_up").is_some());
        assert!(c.condition("heating", "tune_up").is_some());
    }

    #[test]
    fn empty_condition_label_and_empty_conditions() {
        let bad = "[[trade]]\ncode = \"cooling\"\nlabel = \"Cooling\"\nconditions = [\n  { code = \"noisy\", label = \"\" },\n]\n";
        let (_, line, reason) = invalid(parse(GOOD_PLANS, bad, GOOD_REMINDERS));
        assert_eq!(line, 5);
        assert!(reason.contains("cooling/noisy"), "{reason}");
        let bad = "[[trade]]\ncode = \"cooling\"\nlabel = \"Cooling\"\nconditions = []\n";
        let (_, line, reason) = invalid(parse(GOOD_PLANS, bad, GOOD_REMINDERS));
        assert_eq!(line, 4);
        assert_eq!(reason, "trade 'cooling' has no conditions");
        let bad = "[[trade]]\ncode = \"cooling\"\nlabel = \"\"\nconditions = [{ code = \"a\", label = \"A\" }]\n";
        let (_, line, _) = invalid(parse(GOOD_PLANS, bad, GOOD_REMINDERS));
        assert_eq!(line, 3);
    }

    fn templates(hub: &str) -> String {
        format!(
            "[[template]]\nalert = \"hub_offline\"\ntext = \"{hub}\"\n\n\
             [[template]]\nalert = \"battery_low\"\ntext = \"Battery low at {{address}}\"\n\n\
             [[template]]\nalert = \"air_filter_due\"\ntext = \"Filter due\"\n"
        )
    }

    #[test]
    fn valid_minimal_templates() {
        let c = parse(
            GOOD_PLANS,
            GOOD_TRADES,
            &templates("Hub offline since {since}"),
        )
        .unwrap();
        let t = c.reminder_template(AlertKind::HubOffline).unwrap();
        assert_eq!(t.placeholders, ["since"]);
    }

    #[test]
    fn unknown_placeholder() {
        let (file, line, reason) = invalid(parse(
            GOOD_PLANS,
            GOOD_TRADES,
            &templates("Hub offline since {sinse}"),
        ));
        assert_eq!((file.as_str(), line), ("reminders.toml", 3));
        assert!(reason.contains("unknown placeholder '{sinse}'"), "{reason}");
        assert!(reason.contains("hub_offline"), "{reason}");
    }

    #[test]
    fn malformed_placeholder() {
        let (_, line, reason) = invalid(parse(
            GOOD_PLANS,
            GOOD_TRADES,
            &templates("Hub offline {since"),
        ));
        assert_eq!(line, 3);
        assert!(reason.contains("unclosed"), "{reason}");
    }

    #[test]
    fn missing_alert_template() {
        let only_two = "[[template]]\nalert = \"hub_offline\"\ntext = \"x\"\n\
                        [[template]]\nalert = \"battery_low\"\ntext = \"y\"\n";
        let (_, line, reason) = invalid(parse(GOOD_PLANS, GOOD_TRADES, only_two));
        assert_eq!(reason, "missing template for alert 'air_filter_due'");
        assert_eq!(line, 7);
    }

    #[test]
    fn duplicate_and_unknown_alert() {
        let dup = format!(
            "{}[[template]]\nalert = \"battery_low\"\ntext = \"again\"\n",
            templates("x")
        );
        let (_, line, reason) = invalid(parse(GOOD_PLANS, GOOD_TRADES, &dup));
        assert_eq!(line, 13);
        assert_eq!(reason, "duplicate template for alert 'battery_low'");
        let unknown = format!(
            "{}[[template]]\nalert = \"smoke\"\ntext = \"fire\"\n",
            templates("x")
        );
        let (_, line, reason) = invalid(parse(GOOD_PLANS, GOOD_TRADES, &unknown));
        assert_eq!(line, 13);
        assert!(reason.starts_with("unknown alert kind 'smoke'"), "{reason}");
    }
}
