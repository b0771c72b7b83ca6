//! What the per-homeowner sync page reads that no other module does: members found by name,
//! email or member ID, and a member's bookings.
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::StoreResult;
use super::entities::{booking, member};

/// Members of `partner_id` whose name, email or member ID contains `q` (case-insensitive),
/// by last name, at most `limit`.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    q: &str,
    limit: u64,
) -> StoreResult<Vec<member::Model>> {
    let lower = |c: member::Column| Expr::expr(Func::lower(Expr::col(c)));
    // Every word must appear in the first name, last name, email or member ID.
    let mut all = Condition::all();
    for word in q.split_whitespace() {
        let needle = format!("%{}%", word.to_lowercase().replace(['%', '_'], ""));
        all = all.add(
            Condition::any()
                .add(lower(member::Column::FirstName).like(needle.clone()))
                .add(lower(member::Column::LastName).like(needle.clone()))
                .add(lower(member::Column::Email).like(needle.clone()))
                .add(lower(member::Column::ExternalId).like(needle)),
        );
    }
    Ok(member::Entity::find()
        .filter(member::Column::PartnerId.eq(partner_id))
        .filter(all)
        .order_by_asc(member::Column::LastName)
        .order_by_asc(member::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Bookings at any of `location_ids`, newest first.
pub async fn bookings_at<C: ConnectionTrait>(
    db: &C,
    location_ids: &[i64],
) -> StoreResult<Vec<booking::Model>> {
    if location_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(booking::Entity::find()
        .filter(booking::Column::LocationId.is_in(location_ids.iter().copied()))
        .order_by_desc(booking::Column::CreatedAt)
        .limit(50)
        .all(db)
        .await?)
}
