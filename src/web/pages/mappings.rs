//! Settings → Integrations → ServiceTitan → Mappings: one page per mapping step. Choices come
//! from live tenant lists (searched and paged on the server, so 2,000 services stay quick);
//! each form posts back, is verified against the tenant, and redirects with a message.
use crate::web::input::QueryParams;
use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::kept::Kept;
use super::{Layout, PageError, flash, render, require, see_other};
use crate::services::ServiceError;
use crate::services::mappings::{self as svc, Ctx, MappingsView, PlanChoice};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::entities::integration;
use crate::store::users::Role;
use crate::tenant_lists::{Filter, ListKind, RecordPage, TenantLists, TenantRecord, search};
use crate::web::ApiError;
use crate::web::auth::SessionUser;
use crate::web::csrf::CsrfForm;

const BASE: &str = "/settings/integrations/servicetitan/mappings";
const SETTINGS: &str = "/settings/integrations/servicetitan";

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(BASE, web::get().to(overview))
        .route(&format!("{BASE}/plans"), web::get().to(plans))
        .route(&format!("{BASE}/plans"), web::post().to(post_plans))
        .route(&format!("{BASE}/job-types"), web::get().to(job_types))
        .route(&format!("{BASE}/job-types"), web::post().to(post_job_type))
        .route(
            &format!("{BASE}/job-types/offered"),
            web::post().to(post_offered),
        )
        .route(&format!("{BASE}/reminders"), web::get().to(reminders))
        .route(&format!("{BASE}/credit-field"), web::get().to(credit_field))
        .route(
            &format!("{BASE}/credit-field"),
            web::post().to(post_credit_field),
        )
        .route(&format!("{BASE}/services"), web::get().to(services))
        .route(
            &format!("{BASE}/services/add"),
            web::post().to(post_add_services),
        )
        .route(
            &format!("{BASE}/services/remove"),
            web::post().to(post_remove_service),
        )
        .route(&format!("{BASE}/tag-type"), web::get().to(tag_type))
        .route(&format!("{BASE}/tag-type"), web::post().to(post_tag_type))
        .route(&format!("{BASE}/campaign"), web::get().to(campaign))
        .route(&format!("{BASE}/campaign"), web::post().to(post_campaign))
        .route(&format!("{BASE}/capacity"), web::get().to(capacity))
        .route(&format!("{BASE}/capacity"), web::post().to(post_capacity));
}

/// One entry of the mapping steps' navigation.
pub struct NavItem {
    /// Path below the mappings page.
    pub href: String,
    /// Title.
    pub title: &'static str,
    /// Nothing missing for this step.
    pub done: bool,
    /// The page shown.
    pub current: bool,
}

const STEPS: [(&str, &str, &[&str]); 8] = [
    ("plans", "Plans", &["plan"]),
    ("job-types", "Trades", &["job_type"]),
    ("credit-field", "Comfort Credit field", &["credit_field"]),
    ("services", "Eligible services", &["eligible_services"]),
    ("tag-type", "Tag", &["tag_type"]),
    ("campaign", "Campaign", &["campaign"]),
    ("capacity", "Capacity", &["capacity_mode"]),
    ("reminders", "Reminders", &[]),
];

fn nav(view: &MappingsView, here: &str) -> Vec<NavItem> {
    STEPS
        .iter()
        .map(|(slug, title, items)| NavItem {
            href: format!("{BASE}/{slug}"),
            title,
            done: !view
                .missing
                .iter()
                .any(|m| items.contains(&m.item.as_str())),
            current: *slug == here,
        })
        .collect()
}

/// What every step page gets.
struct Page {
    user: SessionUser,
    row: integration::Model,
    view: MappingsView,
}

async fn load(
    state: &AppState,
    session: &Session,
    here: &str,
) -> Result<Result<Page, HttpResponse>, PageError> {
    let user = require(session, Role::PartnerAdmin, here)?;
    let partner_id = user
        .partner_id
        .ok_or_else(|| PageError::Forbidden("This user belongs to no partner.".into()))?;
    let row = flows::partner_integration(state, partner_id).await?;
    if let Err(e) = svc::editable(&row) {
        flash(session, false, e.to_string());
        return Ok(Err(see_other(SETTINGS)));
    }
    let view = svc::view(state, &state.catalog, &row).await?;
    Ok(Ok(Page { user, row, view }))
}

/// Loads the page or returns the redirect that replaces it.
macro_rules! page {
    ($state:expr, $session:expr, $here:expr) => {
        match load(&$state, &$session, $here).await? {
            Ok(p) => p,
            Err(redirect) => return Ok(redirect),
        }
    };
}

async fn list(
    lists: &TenantLists,
    row: &integration::Model,
    kind: ListKind,
) -> Result<std::sync::Arc<Vec<TenantRecord>>, ApiError> {
    let t = svc::tenant(lists, row)?;
    Ok(lists.list(&t, kind).await.map_err(svc::list_error)?)
}

/// One page of a tenant list matching the search box, and the search text.
async fn searched(
    lists: &TenantLists,
    row: &integration::Model,
    kind: ListKind,
    query: &SearchQuery,
    page_size: usize,
) -> Result<(String, RecordPage), ApiError> {
    let all = list(lists, row, kind).await?;
    let q = query.q.clone().unwrap_or_default();
    let page = search(
        &all,
        &Filter {
            q: q.clone(),
            page: query.page.unwrap_or(1),
            page_size,
            ..Filter::default()
        },
    );
    Ok((q, page))
}

/// Runs a step and redirects back to `back` with the outcome as a flash message; on a refusal
/// `typed` and each field's error are kept for the form.
async fn run<F>(
    session: &Session,
    state: &AppState,
    back: &str,
    ok: &str,
    typed: &[(&str, &str)],
    op: F,
) -> Result<HttpResponse, PageError>
where
    F: AsyncFnOnce(&Ctx<'_>) -> Result<(), ServiceError>,
{
    let p = page!(state, session, back);
    let actor = p.user.actor();
    let ctx = Ctx {
        state,
        lists: &state.lists,
        catalog: &state.catalog,
        actor: &actor,
        row: &p.row,
    };
    let keep = |errors: &[crate::web::error::FieldError]| {
        Kept::keep(session, back, typed.iter().copied(), errors);
    };
    match op(&ctx).await {
        Ok(()) => flash(session, true, ok),
        Err(ServiceError::Internal(detail)) => {
            tracing::error!(error = %detail, "internal error");
            keep(&[]);
            flash(
                session,
                false,
                "Something went wrong; the problem was logged. Try again.",
            );
        }
        Err(ServiceError::Upstream(detail)) => {
            tracing::info!(error = %detail, "ServiceTitan unreachable during a mapping step");
            keep(&[]);
            flash(session, false, super::UNREACHABLE);
        }
        Err(ServiceError::Validation(fields)) => {
            keep(&fields);
            let text = format!(
                "Not saved: {}",
                fields
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            flash(session, false, text);
        }
        Err(e) => {
            keep(&[]);
            flash(session, false, flash_text(&e));
        }
    }
    Ok(see_other(back))
}

/// Parses a chosen ID; `what` names it in the contractor's words ("a membership type").
fn parse_id(field: &str, what: &str, v: &str) -> Result<i64, ServiceError> {
    v.trim()
        .parse()
        .map_err(|_| ServiceError::field(field, format!("Choose {what}.")))
}

/// Flattens a refusal into one line for the page's flash message.
fn flash_text(e: &ServiceError) -> String {
    match e {
        ServiceError::Validation(fields) => fields
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "mappings/overview.html")]
struct OverviewPage {
    layout: Layout,
    nav: Vec<NavItem>,
    view: MappingsView,
}

impl OverviewPage {
    fn state_name(&self) -> String {
        super::words::state_name(&self.view.state).to_lowercase()
    }
}

async fn overview(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let p = page!(state, session, BASE);
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, ""),
            view: p.view,
        },
    ))
}

/// One plan row of the plans form: what is selected (kept input first, then the saved
/// mapping) and the errors at its fields.
struct PlanRow {
    code: String,
    name: String,
    description: String,
    membership_type_id: String,
    business_unit_id: String,
    sale_task_id: String,
    mt_error: Option<String>,
    bu_error: Option<String>,
    task_error: Option<String>,
}

#[derive(Template)]
#[template(path = "mappings/plans.html")]
struct PlansPage {
    layout: Layout,
    nav: Vec<NavItem>,
    rows: Vec<PlanRow>,
    other_errors: Vec<String>,
    membership_types: Vec<TenantRecord>,
    business_units: Vec<TenantRecord>,
}

async fn plans(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/plans");
    let p = page!(state, session, &here);
    let all = list(&state.lists, &p.row, ListKind::MembershipTypes).await?;
    let units = list(&state.lists, &p.row, ListKind::BusinessUnits).await?;
    let kept = Kept::take(&session, &here);
    let id_text = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut shown = Vec::new();
    let rows = p
        .view
        .plans
        .iter()
        .map(|plan| {
            let f = |name: &str| format!("{}.{name}", plan.code);
            let pick = |name: &str, saved: String| {
                if kept.any() {
                    kept.value(&f(name), &saved)
                } else {
                    saved
                }
            };
            for n in [
                "membership_type_id",
                "business_unit_id",
                "sale_task_id",
                "plan",
            ] {
                shown.push(f(n));
            }
            PlanRow {
                code: plan.code.clone(),
                name: plan.name.clone(),
                description: plan.description.clone(),
                membership_type_id: pick(
                    "membership_type_id",
                    id_text(plan.membership_type.as_ref().map(|m| m.id)),
                ),
                business_unit_id: pick("business_unit_id", id_text(plan.business_unit_id)),
                sale_task_id: pick("sale_task_id", id_text(plan.sale_task_id)),
                mt_error: kept
                    .error(&f("membership_type_id"))
                    .or(kept.error(&f("plan")))
                    .map(str::to_owned),
                bu_error: kept.error(&f("business_unit_id")).map(str::to_owned),
                task_error: kept.error(&f("sale_task_id")).map(str::to_owned),
            }
        })
        .collect();
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    Ok(render(
        StatusCode::OK,
        &PlansPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "plans"),
            rows,
            other_errors: kept.other_errors(&shown),
            membership_types: all.iter().filter(|r| r.active).cloned().collect(),
            business_units: units.iter().filter(|r| r.active).cloned().collect(),
        },
    ))
}

/// The plans step's one form: fields `<plan>.membership_type_id`, `<plan>.business_unit_id`
/// and `<plan>.sale_task_id` for every plan, saved together.
async fn post_plans(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let f = form.0;
    let back = format!("{BASE}/plans");
    let typed: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let codes: Vec<String> = state
        .catalog
        .plans()
        .iter()
        .map(|p| p.code.clone())
        .collect();
    run(&session, &state, &back, "Plans saved.", &typed, async |c| {
        let mut choices = Vec::new();
        let mut errors = Vec::new();
        for code in &codes {
            let get = |name: &str| {
                f.get(&format!("{code}.{name}"))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default()
            };
            let (mt, bu, task) = (
                get("membership_type_id"),
                get("business_unit_id"),
                get("sale_task_id"),
            );
            if mt.is_empty() && bu.is_empty() && task.is_empty() {
                continue;
            }
            let optional = |field: &str, what: &str, v: &str| {
                if v.is_empty() {
                    Ok(None)
                } else {
                    parse_id(field, what, v).map(Some)
                }
            };
            let parsed = (
                parse_id(
                    &format!("{code}.membership_type_id"),
                    "a membership type for this plan",
                    &mt,
                ),
                optional(&format!("{code}.business_unit_id"), "a business unit", &bu),
                optional(
                    &format!("{code}.sale_task_id"),
                    "the sale task by its pricebook service ID (digits only)",
                    &task,
                ),
            );
            match parsed {
                (Ok(membership_type_id), Ok(business_unit_id), Ok(sale_task_id)) => {
                    choices.push((
                        code.clone(),
                        PlanChoice {
                            membership_type_id,
                            business_unit_id,
                            sale_task_id,
                        },
                    ));
                }
                (a, b, t) => {
                    for r in [a.map(|_| ()), b.map(|_| ()), t.map(|_| ())] {
                        if let Err(ServiceError::Validation(mut e)) = r {
                            errors.append(&mut e);
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        if choices.is_empty() {
            return Err(ServiceError::field(
                "plans",
                "Choose a membership type for at least one plan.",
            ));
        }
        c.set_plans(&choices).await
    })
    .await
}

#[derive(Deserialize, Default)]
struct JobTypeQuery {
    trade: Option<String>,
    condition: Option<String>,
    business_unit_id: Option<i64>,
    q: Option<String>,
    page: Option<usize>,
}

/// The (trade, condition) row open for editing in the grid.
struct Editing {
    trade: String,
    trade_label: String,
    condition: String,
    condition_label: String,
    business_unit_id: Option<i64>,
    job_type_id: Option<i64>,
    q: String,
    job_types: Option<RecordPage>,
    /// How many conditions the trade has (for "same for all …").
    siblings: usize,
}

#[derive(Template)]
#[template(path = "mappings/job_types.html")]
struct JobTypesPage {
    layout: Layout,
    nav: Vec<NavItem>,
    view: MappingsView,
    editing: Option<Editing>,
    business_units: Vec<TenantRecord>,
    kept: Kept,
}

impl JobTypesPage {
    fn all_not_offered(&self, t: &crate::services::mappings::TradeView) -> bool {
        t.conditions.iter().all(|c| c.not_offered)
    }

    fn is_editing(&self, trade: &str, condition: &str) -> bool {
        self.editing
            .as_ref()
            .is_some_and(|e| e.trade == trade && e.condition == condition)
    }
}

async fn job_types(
    session: Session,
    state: web::Data<AppState>,
    query: QueryParams<JobTypeQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/job-types");
    let p = page!(state, session, &here);
    let query = query.into_inner();
    // The row asked for, else the first one still to map (so saving moves on by itself).
    let wanted = match (&query.trade, &query.condition) {
        (Some(t), Some(c)) => Some((t.clone(), c.clone())),
        _ => p.view.trades.iter().find_map(|t| {
            t.conditions
                .iter()
                .find(|c| c.job_type.is_none() && !c.not_offered)
                .map(|c| (t.code.clone(), c.code.clone()))
        }),
    };
    let found = wanted.as_ref().and_then(|(t, c)| {
        let trade = p.view.trades.iter().find(|x| &x.code == t)?;
        let cond = trade.conditions.iter().find(|x| &x.code == c)?;
        Some((trade, cond))
    });
    let mut business_units = Vec::new();
    let mut editing = None;
    if let Some((trade, cond)) = found {
        let bus = list(&state.lists, &p.row, ListKind::BusinessUnits).await?;
        business_units = bus.iter().filter(|r| r.active).cloned().collect();
        // The unit asked for, else the saved one, else the one a sibling condition uses.
        let bu = query
            .business_unit_id
            .or(cond.business_unit.as_ref().map(|b| b.id))
            .or(trade
                .conditions
                .iter()
                .find_map(|c| c.business_unit.as_ref().map(|b| b.id)));
        let mut page = None;
        if let Some(bu) = bu {
            let jts = list(&state.lists, &p.row, ListKind::JobTypes).await?;
            page = Some(search(
                &jts,
                &Filter {
                    q: query.q.clone().unwrap_or_default(),
                    business_unit_id: Some(bu),
                    page: query.page.unwrap_or(1),
                    page_size: 25,
                    ..Filter::default()
                },
            ));
        }
        editing = Some(Editing {
            trade: trade.code.clone(),
            trade_label: trade.label.clone(),
            condition: cond.code.clone(),
            condition_label: cond.label.clone(),
            business_unit_id: bu,
            job_type_id: cond.job_type.as_ref().map(|j| j.id),
            q: query.q.clone().unwrap_or_default(),
            job_types: page,
            siblings: trade.conditions.len(),
        });
    }
    Ok(render(
        StatusCode::OK,
        &JobTypesPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "job-types"),
            view: p.view,
            editing,
            business_units,
            kept: Kept::take(&session, &here),
        },
    ))
}

#[derive(Deserialize)]
struct JobTypeForm {
    trade: String,
    /// A condition code, or `*` for every condition of the trade.
    condition: String,
    #[serde(default)]
    business_unit_id: String,
    #[serde(default)]
    job_type_id: String,
}

async fn post_job_type(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<JobTypeForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.0;
    let back = format!("{BASE}/job-types");
    let ok = if f.condition == "*" {
        "Saved for every condition of this trade."
    } else {
        "Saved."
    };
    run(
        &session,
        &state,
        &back,
        ok,
        &[("job_type_id", f.job_type_id.as_str())],
        async |c| {
            let bu = parse_id("business_unit_id", "a business unit", &f.business_unit_id)?;
            let jt = parse_id("job_type_id", "a job type", &f.job_type_id)?;
            let condition = Some(f.condition.as_str()).filter(|c| *c != "*");
            c.set_job_type(&f.trade, condition, bu, jt).await
        },
    )
    .await
}

#[derive(Deserialize)]
struct OfferedForm {
    trade: String,
    /// A condition code, or `*` for every condition of the trade.
    condition: String,
    /// `yes` (offered again) or `no` (not offered).
    offered: String,
}

async fn post_offered(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<OfferedForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.0;
    let back = format!("{BASE}/job-types");
    let offered = f.offered == "yes";
    let ok = if offered {
        "Offered again: choose its business unit and job type."
    } else {
        "Marked not offered: bookings for it are refused with that reason, and going live does not wait for it."
    };
    run(&session, &state, &back, ok, &[], async |c| {
        let condition = Some(f.condition.as_str()).filter(|c| *c != "*");
        c.set_offered(&f.trade, condition, offered).await
    })
    .await
}

#[derive(Template)]
#[template(path = "mappings/name_step.html")]
struct NameStepPage {
    layout: Layout,
    nav: Vec<NavItem>,
    heading: &'static str,
    help: &'static str,
    action: String,
    current: Option<String>,
    suggested: String,
    error: Option<String>,
}

async fn name_step(
    session: Session,
    state: web::Data<AppState>,
    slug: &'static str,
) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/{slug}");
    let p = page!(state, session, &here);
    let (heading, help, current, suggested) = if slug == "credit-field" {
        (
            "Comfort Credit custom field",
            "Name the location custom field you created in ServiceTitan for Comfort Credits (Settings → Custom Fields → Location). We look it up in your tenant; capitals and spaces around the name do not matter.",
            p.view.credit_field.as_ref().map(|c| c.name.clone()),
            "Comfort Credits",
        )
    } else {
        (
            "Tag for members",
            "Name the tag type we put on members' customers and jobs. We check it exists among your tenant's tag types and store its ID.",
            p.view.tag_type.as_ref().map(|c| c.name.clone()),
            "SmartAC.com",
        )
    };
    // What was typed wins over the saved name and the suggestion.
    let kept = Kept::take(&session, &here);
    let fallback = current.clone().unwrap_or_else(|| suggested.to_owned());
    let error = kept
        .error("name")
        .map(str::to_owned)
        .or_else(|| kept.other_errors(&["name"]).into_iter().next());
    Ok(render(
        StatusCode::OK,
        &NameStepPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, slug),
            suggested: kept.value("name", &fallback),
            error,
            heading,
            help,
            action: here,
            current,
        },
    ))
}

async fn credit_field(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    name_step(session, state, "credit-field").await
}

async fn tag_type(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    name_step(session, state, "tag-type").await
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn post_credit_field(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<NameForm>,
) -> Result<HttpResponse, PageError> {
    let name = form.0.name;
    let back = format!("{BASE}/credit-field");
    run(
        &session,
        &state,
        &back,
        "Comfort Credit field found and saved.",
        &[("name", name.as_str())],
        async |c| c.set_credit_field(&name).await,
    )
    .await
}

async fn post_tag_type(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<NameForm>,
) -> Result<HttpResponse, PageError> {
    let name = form.0.name;
    let back = format!("{BASE}/tag-type");
    run(
        &session,
        &state,
        &back,
        "Tag type found and saved.",
        &[("name", name.as_str())],
        async |c| c.set_tag_type(&name).await,
    )
    .await
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "mappings/services.html")]
struct ServicesPage {
    layout: Layout,
    nav: Vec<NavItem>,
    view: MappingsView,
    q: String,
    results: RecordPage,
}

async fn services(
    session: Session,
    state: web::Data<AppState>,
    query: QueryParams<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/services");
    let p = page!(state, session, &here);
    let (q, results) = searched(&state.lists, &p.row, ListKind::Services, &query, 25).await?;
    Ok(render(
        StatusCode::OK,
        &ServicesPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "services"),
            view: p.view,
            q,
            results,
        },
    ))
}

/// Checked boxes arrive as `svc_<id>=on`.
async fn post_add_services(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let picked: Vec<i64> = form
        .0
        .keys()
        .filter_map(|k| k.strip_prefix("svc_"))
        .filter_map(|id| id.parse().ok())
        .collect();
    let back = format!("{BASE}/services");
    run(
        &session,
        &state,
        &back,
        "Eligible services saved.",
        &[],
        async |c| {
            if picked.is_empty() {
                return Err(ServiceError::field(
                    "service_ids",
                    "tick at least one service to add",
                ));
            }
            let current = svc::view(c.state, c.catalog, c.row).await?;
            let mut ids: Vec<i64> = current.eligible_services.iter().map(|s| s.id).collect();
            ids.extend(picked);
            c.set_services(&ids).await
        },
    )
    .await
}

#[derive(Deserialize)]
struct RemoveForm {
    // A string: numbers do not survive the CSRF wrapper's `serde(flatten)`.
    service_id: String,
}

async fn post_remove_service(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<RemoveForm>,
) -> Result<HttpResponse, PageError> {
    let raw = form.0.service_id;
    let back = format!("{BASE}/services");
    run(
        &session,
        &state,
        &back,
        "Service removed.",
        &[],
        async |c| {
            let gone = parse_id("service_id", "a service", &raw)?;
            let current = svc::view(c.state, c.catalog, c.row).await?;
            let ids: Vec<i64> = current
                .eligible_services
                .iter()
                .map(|s| s.id)
                .filter(|id| *id != gone)
                .collect();
            c.set_services(&ids).await
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "mappings/campaign.html")]
struct CampaignPage {
    layout: Layout,
    nav: Vec<NavItem>,
    view: MappingsView,
    q: String,
    campaigns: RecordPage,
}

async fn campaign(
    session: Session,
    state: web::Data<AppState>,
    query: QueryParams<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/campaign");
    let p = page!(state, session, &here);
    let (q, campaigns) = searched(&state.lists, &p.row, ListKind::Campaigns, &query, 50).await?;
    Ok(render(
        StatusCode::OK,
        &CampaignPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "campaign"),
            view: p.view,
            q,
            campaigns,
        },
    ))
}

#[derive(Deserialize)]
struct CampaignForm {
    #[serde(default)]
    campaign_id: String,
}

async fn post_campaign(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<CampaignForm>,
) -> Result<HttpResponse, PageError> {
    let raw = form.0.campaign_id;
    let back = format!("{BASE}/campaign");
    run(&session, &state, &back, "Campaign saved.", &[], async |c| {
        c.set_campaign(parse_id("campaign", "a campaign", &raw)?)
            .await
    })
    .await
}

#[derive(Template)]
#[template(path = "mappings/capacity.html")]
struct CapacityPage {
    layout: Layout,
    nav: Vec<NavItem>,
    view: MappingsView,
}

async fn capacity(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/capacity");
    let p = page!(state, session, &here);
    Ok(render(
        StatusCode::OK,
        &CapacityPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "capacity"),
            view: p.view,
        },
    ))
}

#[derive(Deserialize)]
struct CapacityForm {
    enabled: Option<String>,
    mode: Option<String>,
}

async fn post_capacity(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<CapacityForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.0;
    let enabled = f.enabled.is_some();
    let back = format!("{BASE}/capacity");
    let ok = if enabled {
        "Capacity endpoint answered; real-time capacity scheduling is on."
    } else {
        "Real-time capacity scheduling is off."
    };
    run(&session, &state, &back, ok, &[], async |c| {
        c.set_capacity(enabled, f.mode.as_deref()).await
    })
    .await
}

#[derive(Template)]
#[template(path = "mappings/reminders.html")]
struct RemindersPage {
    layout: Layout,
    nav: Vec<NavItem>,
    reminders: Vec<svc::ReminderPreview>,
}

/// The reminders step: nothing to choose (they are automatic); shows the notes we write.
async fn reminders(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let here = format!("{BASE}/reminders");
    let p = page!(state, session, &here);
    Ok(render(
        StatusCode::OK,
        &RemindersPage {
            layout: Layout::new(&session),
            nav: nav(&p.view, "reminders"),
            reminders: svc::reminder_previews(&state.catalog),
        },
    ))
}
