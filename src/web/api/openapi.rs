//! The OpenAPI document of `/api/v1`, served at `/api/v1/openapi.json`.
use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::mappings as mp;
use super::onboarding as ob;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "titanbridge API", version = "1",
         description = "Onboarding of ServiceTitan integrations and their mappings. Sign in with POST /api/v1/session; send the returned csrf_token as X-CSRF-Token on unsafe requests."),
    paths(
        super::get_session, super::create_session, super::delete_session,
        ob::my_integration, ob::get_integration, ob::submit_tenant, ob::connect_credentials,
        ob::check_connection, ob::submit_integration, ob::disconnect, ob::reconnect,
        ob::ops_list, ob::ops_get, ob::ops_approve, ob::ops_reject, ob::ops_suspend,
        ob::ops_resume, ob::ops_resend, ob::ops_emails, ob::ops_retry_email,
        mp::get_mappings, mp::tenant_list, mp::put_plan, mp::put_trade, mp::put_condition,
        mp::put_credit_field, mp::put_services, mp::put_tag_type, mp::put_campaign, mp::put_capacity,
        mp::put_booking_provider,
    ),
    components(schemas(crate::web::FieldError)),
    tags((name = "session"), (name = "partner"), (name = "mappings"), (name = "ops"))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
