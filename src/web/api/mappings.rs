//! Mapping steps over JSON: live tenant lists (searched and paged server-side) and one `PUT`
//! per choice. Each `PUT` verifies against the tenant and answers with every mapping and what
//! is still missing; refusals are 422s naming the field.
use crate::web::input::{JsonBody, QueryParams};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::services::ServiceError;
use crate::services::mappings::{self as svc, Ctx, MappingsView, PlanChoice};
use crate::state::AppState;
use crate::store::entities::integration;
use crate::store::integrations;
use crate::tenant_lists::{Filter, ListKind, RecordPage, search};
use crate::web::ApiError;
use crate::web::auth::PartnerAdmin;

/// Routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/integrations/{id}/mappings", web::get().to(get_mappings))
        .route(
            "/integrations/{id}/tenant-lists/{kind}",
            web::get().to(tenant_list),
        )
        .route(
            "/integrations/{id}/mappings/plans/{plan}",
            web::put().to(put_plan),
        )
        .route(
            "/integrations/{id}/mappings/job-types/{trade}",
            web::put().to(put_trade),
        )
        .route(
            "/integrations/{id}/mappings/job-types/{trade}/{condition}",
            web::put().to(put_condition),
        )
        .route(
            "/integrations/{id}/mappings/credit-field",
            web::put().to(put_credit_field),
        )
        .route(
            "/integrations/{id}/mappings/eligible-services",
            web::put().to(put_services),
        )
        .route(
            "/integrations/{id}/mappings/tag-type",
            web::put().to(put_tag_type),
        )
        .route(
            "/integrations/{id}/mappings/campaign",
            web::put().to(put_campaign),
        )
        .route(
            "/integrations/{id}/mappings/capacity",
            web::put().to(put_capacity),
        )
        .route(
            "/integrations/{id}/mappings/booking-provider",
            web::put().to(put_booking_provider),
        );
}

struct Deps {
    state: web::Data<AppState>,
}

async fn owned(
    state: &AppState,
    who: &PartnerAdmin,
    id: i64,
) -> Result<integration::Model, ApiError> {
    Ok(integrations::get_owned(state.store.db(), id, who.partner_id).await?)
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::field(field, format!("{field} is required")))
}

/// Loads the integration, runs `op` on it and answers with the mappings after it.
async fn edit<F>(d: Deps, who: PartnerAdmin, id: i64, op: F) -> Result<HttpResponse, ApiError>
where
    F: AsyncFnOnce(&Ctx<'_>) -> Result<(), ServiceError>,
{
    let row = owned(&d.state, &who, id).await?;
    let actor = who.user.actor();
    let ctx = Ctx {
        state: &d.state,
        lists: &d.state.lists,
        catalog: &d.state.catalog,
        actor: &actor,
        row: &row,
    };
    op(&ctx).await?;
    let row = integrations::get(d.state.store.db(), id).await?;
    let view = svc::view(&d.state, &d.state.catalog, &row).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Every mapping of the integration and what is still missing.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/mappings", tag = "mappings",
    params(("id" = i64, Path)), responses((status = 200, body = MappingsView), (status = 404)))]
pub async fn get_mappings(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    Ok(HttpResponse::Ok().json(svc::view(&state, &state.catalog, &row).await?))
}

/// Search and paging of a tenant list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// Substring of the name (or a service's code), case-insensitive.
    pub q: Option<String>,
    /// 1-based page (default 1).
    pub page: Option<usize>,
    /// Records per page (default 50, at most 200).
    pub page_size: Option<usize>,
    /// Include inactive records (default false).
    pub include_inactive: Option<bool>,
    /// Job types: only those allowed for this business unit.
    pub business_unit_id: Option<i64>,
}

/// A live list from the partner's tenant (cached for a minute), searched and paged here.
/// `kind`: membership-types, business-units, job-types, custom-fields, services, tag-types,
/// campaigns.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/tenant-lists/{kind}", tag = "mappings",
    params(("id" = i64, Path), ("kind" = ListKind, Path), ListParams),
    responses((status = 200, body = RecordPage), (status = 409, description = "No credentials connected"),
              (status = 422, description = "Unknown list"), (status = 502, description = "ServiceTitan failed")))]
pub async fn tenant_list(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    path: web::Path<(i64, String)>,
    q: QueryParams<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let kind: ListKind = kind
        .parse()
        .map_err(|e: crate::tenant_lists::UnknownList| ApiError::field("kind", e.to_string()))?;
    let row = owned(&state, &who, id).await?;
    svc::editable(&row)?;
    let t = svc::tenant(&state.lists, &row)?;
    let items = state.lists.list(&t, kind).await.map_err(svc::list_error)?;
    let q = q.into_inner();
    if let Some(text) = &q.q {
        crate::domain::limits::text("q", text, crate::domain::limits::NAME_MAX_CHARS)
            .map_err(|e| ApiError::field(e.field, e.message))?;
    }
    if q.page.is_some_and(|p| p > crate::domain::limits::PAGE_MAX) {
        return Err(ApiError::field(
            "page",
            format!("must be at most {}", crate::domain::limits::PAGE_MAX),
        ));
    }
    let filter = Filter {
        q: q.q.unwrap_or_default(),
        include_inactive: q.include_inactive.unwrap_or(false),
        business_unit_id: q.business_unit_id,
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(0),
    };
    Ok(HttpResponse::Ok().json(search(&items, &filter)))
}

/// A plan's membership type, and the business unit and sale task its sale needs.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlanRequest {
    /// An active membership type ID.
    pub membership_type_id: Option<i64>,
    /// An active business unit ID: where the membership is sold.
    pub business_unit_id: Option<i64>,
    /// An active pricebook service ID: the membership type's sale task (ServiceTitan's
    /// membership-type API does not expose it).
    pub sale_task_id: Option<i64>,
}

/// Maps a plan to an active membership type.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/plans/{plan}", tag = "mappings",
    params(("id" = i64, Path), ("plan" = String, Path, description = "Plan code")), request_body = PlanRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Unknown plan, or membership type unknown or inactive")))]
pub async fn put_plan(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    path: web::Path<(i64, String)>,
    body: JsonBody<PlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, plan) = path.into_inner();
    let choice = PlanChoice {
        membership_type_id: required(body.membership_type_id, "membership_type_id")?,
        business_unit_id: body.business_unit_id,
        sale_task_id: body.sale_task_id,
    };
    let d = Deps { state };
    edit(d, who, id, async |c| c.set_plan(&plan, choice).await).await
}

/// A business unit and job type.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JobTypeRequest {
    /// An active business unit ID.
    pub business_unit_id: Option<i64>,
    /// An active job type ID allowed for that business unit.
    pub job_type_id: Option<i64>,
}

impl JobTypeRequest {
    fn ids(&self) -> Result<(i64, i64), ApiError> {
        let mut errors = Vec::new();
        for (field, v) in [
            ("business_unit_id", self.business_unit_id),
            ("job_type_id", self.job_type_id),
        ] {
            if v.is_none() {
                errors.push(crate::web::FieldError {
                    field: field.into(),
                    message: format!("{field} is required"),
                });
            }
        }
        match (self.business_unit_id, self.job_type_id) {
            (Some(b), Some(j)) => Ok((b, j)),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// "Apply to all conditions of this trade": one business unit and job type for every
/// condition of the trade.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/job-types/{trade}", tag = "mappings",
    params(("id" = i64, Path), ("trade" = String, Path)), request_body = JobTypeRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Unknown trade, or job type not allowed for the business unit")))]
pub async fn put_trade(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    path: web::Path<(i64, String)>,
    body: JsonBody<JobTypeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, trade) = path.into_inner();
    let (bu, jt) = body.ids()?;
    let d = Deps { state };
    edit(d, who, id, async |c| {
        c.set_job_type(&trade, None, bu, jt).await
    })
    .await
}

/// Maps one (trade, condition) to a business unit and a job type allowed for it.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/job-types/{trade}/{condition}", tag = "mappings",
    params(("id" = i64, Path), ("trade" = String, Path), ("condition" = String, Path)), request_body = JobTypeRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Unknown trade or condition, or job type not allowed for the business unit")))]
pub async fn put_condition(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    path: web::Path<(i64, String, String)>,
    body: JsonBody<JobTypeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, trade, condition) = path.into_inner();
    let (bu, jt) = body.ids()?;
    let d = Deps { state };
    edit(d, who, id, async |c| {
        c.set_job_type(&trade, Some(&condition), bu, jt).await
    })
    .await
}

/// A name typed by the partner.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NameRequest {
    /// Matched trimmed and case-insensitively.
    pub name: Option<String>,
}

/// Finds the Comfort Credit location custom field by name; a miss lists close names.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/credit-field", tag = "mappings",
    params(("id" = i64, Path)), request_body = NameRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "No such field (with suggestions)")))]
pub async fn put_credit_field(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<NameRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name.unwrap_or_default();
    let d = Deps { state };
    edit(d, who, *id, async |c| c.set_credit_field(&name).await).await
}

/// The eligible services.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServicesRequest {
    /// Active pricebook service IDs (replaces the current set).
    pub service_ids: Option<Vec<i64>>,
}

/// Replaces the pricebook services eligible for Comfort Credits; inactive ones are refused.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/eligible-services", tag = "mappings",
    params(("id" = i64, Path)), request_body = ServicesRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "A service is unknown or inactive")))]
pub async fn put_services(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<ServicesRequest>,
) -> Result<HttpResponse, ApiError> {
    let ids = required(body.into_inner().service_ids, "service_ids")?;
    let d = Deps { state };
    edit(d, who, *id, async |c| c.set_services(&ids).await).await
}

/// Finds the tag type by name (suggested: "SmartAC.com") and stores its ID.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/tag-type", tag = "mappings",
    params(("id" = i64, Path)), request_body = NameRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "No such tag type (with suggestions)")))]
pub async fn put_tag_type(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<NameRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name.unwrap_or_default();
    let d = Deps { state };
    edit(d, who, *id, async |c| c.set_tag_type(&name).await).await
}

/// The campaign.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignRequest {
    /// An active campaign ID.
    pub campaign_id: Option<i64>,
}

/// Chooses the active campaign our jobs carry.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/campaign", tag = "mappings",
    params(("id" = i64, Path)), request_body = CampaignRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Campaign unknown or inactive")))]
pub async fn put_campaign(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<CampaignRequest>,
) -> Result<HttpResponse, ApiError> {
    let campaign = required(body.campaign_id, "campaign_id")?;
    let d = Deps { state };
    edit(d, who, *id, async |c| c.set_campaign(campaign).await).await
}

/// The booking provider tag.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BookingProviderRequest {
    /// An active booking provider tag ID of the tenant (Settings → Integrations → Booking
    /// Provider Tags in ServiceTitan).
    pub booking_provider_id: Option<i64>,
}

/// Chooses the booking provider tag call-centre bookings are created under (needed only when
/// the tenant has several; with one it is found by itself).
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/booking-provider", tag = "mappings",
    params(("id" = i64, Path)), request_body = BookingProviderRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Booking provider tag unknown or inactive")))]
pub async fn put_booking_provider(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<BookingProviderRequest>,
) -> Result<HttpResponse, ApiError> {
    let provider = required(body.booking_provider_id, "booking_provider_id")?;
    let d = Deps { state };
    edit(d, who, *id, async |c| {
        c.set_booking_provider(provider).await
    })
    .await
}

/// Real-time capacity scheduling.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CapacityRequest {
    /// On or off.
    pub enabled: Option<bool>,
    /// `business_unit` or `technician` (required when on).
    pub mode: Option<String>,
}

/// Turns real-time capacity scheduling on (after checking the capacity endpoint answers for
/// the tenant) or off.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/mappings/capacity", tag = "mappings",
    params(("id" = i64, Path)), request_body = CapacityRequest,
    responses((status = 200, body = MappingsView), (status = 409), (status = 422, description = "Mode missing or unknown, or the capacity endpoint failed")))]
pub async fn put_capacity(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<CapacityRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let enabled = required(body.enabled, "enabled")?;
    let d = Deps { state };
    edit(d, who, *id, async |c| {
        c.set_capacity(enabled, body.mode.as_deref()).await
    })
    .await
}
