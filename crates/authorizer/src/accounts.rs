//! Fleet accounts: balances, top-ups by the issuer, the statement, and the fleet's view of
//! its authorizations.

use crate::views::{
    AccountView, AuthorizationQuery, AuthorizationView, PostingView, MAX_AUTHORIZATIONS,
};
use crate::{now_us, Authorizer};
use domain::{CardId, FieldError, OrgId, Role};
use issuing::{IssuingError, Principal, Result};
use serde::Deserialize;
use store::{AuthorizationFilter, AuthorizerStore, Store};

/// Most rows a statement returns.
pub const MAX_LISTING_ROWS: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    /// Minor units of the org's currency.
    pub amount: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditLimit {
    pub credit_limit: i64,
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    async fn org_currency(&self, org: OrgId) -> Result<String> {
        let org = match self.store().get_org(org).await {
            Ok(o) => o,
            Err(store::StoreError::NotFound) => return Err(IssuingError::NotFound("org")),
            Err(e) => return Err(e.into()),
        };
        Ok(org.currency.code().to_owned())
    }

    /// The caller's fleet account (owners), or any fleet's (operators).
    pub async fn account(&self, who: &Principal, org: OrgId) -> Result<AccountView> {
        self.may_see_account(who, org)?;
        let currency = self.org_currency(org).await?;
        Ok(AccountView::new(&self.store().account(org, &currency).await?, &currency))
    }

    pub async fn statement(&self, who: &Principal, org: OrgId) -> Result<Vec<PostingView>> {
        self.may_see_account(who, org)?;
        Ok(self
            .store()
            .list_postings(org, MAX_LISTING_ROWS)
            .await?
            .iter()
            .map(PostingView::from)
            .collect())
    }

    /// A top-up or payment received, recorded by the issuer's operator.
    pub async fn credit(&self, who: &Principal, org: OrgId, req: &Credit) -> Result<AccountView> {
        who.require(&[Role::Operator], "only platform operators credit accounts")?;
        domain::money::positive_amount("amount", req.amount)?;
        let currency = self.org_currency(org).await?;
        let account = self.store().credit_account(org, &currency, req.amount, now_us()).await?;
        Ok(AccountView::new(&account, &currency))
    }

    pub async fn set_credit_limit(
        &self,
        who: &Principal,
        org: OrgId,
        req: &CreditLimit,
    ) -> Result<AccountView> {
        who.require(&[Role::Operator], "only platform operators set credit lines")?;
        if !(0..=domain::money::MAX_AMOUNT_MINOR).contains(&req.credit_limit) {
            return Err(FieldError::out_of_range("credit_limit", "must be 0 or more").into());
        }
        let currency = self.org_currency(org).await?;
        let account = self.store().set_credit_limit(org, &currency, req.credit_limit).await?;
        Ok(AccountView::new(&account, &currency))
    }

    fn may_see_account(&self, who: &Principal, org: OrgId) -> Result<()> {
        let allowed =
            who.role == Role::Operator || (who.role == Role::Owner && who.org_id == Some(org));
        if allowed {
            Ok(())
        } else if who.org_id == Some(org) {
            Err(IssuingError::Forbidden("only the owner sees the fleet's account"))
        } else {
            Err(IssuingError::NotFound("org"))
        }
    }

    /// Fills of the caller's fleet, newest first, up to `MAX_LISTING_ROWS`: owners all,
    /// admins their depots' cards, drivers their own cards; `card` narrows to one card the
    /// caller may read.
    pub async fn authorizations(
        &self,
        who: &Principal,
        card: Option<CardId>,
    ) -> Result<Vec<AuthorizationView>> {
        let q = AuthorizationQuery { card_id: card, ..AuthorizationQuery::default() };
        self.find_authorizations(who, &q, MAX_LISTING_ROWS).await
    }

    /// Fills of the caller's fleet matching `q`, newest first, at most `q.limit` (default
    /// and most `MAX_AUTHORIZATIONS`), within the same scope as [`Self::authorizations`].
    pub async fn search_authorizations(
        &self,
        who: &Principal,
        q: &AuthorizationQuery,
    ) -> Result<Vec<AuthorizationView>> {
        let limit = q.limit.unwrap_or(MAX_AUTHORIZATIONS).clamp(1, MAX_AUTHORIZATIONS);
        self.find_authorizations(who, q, limit).await
    }

    /// The completed spend of the fills [`Self::search_authorizations`] would list for `q`
    /// (its status and limit ignored), summed per `bucket_us` interval from the epoch over
    /// every fill, not a page of them: what a dashboard's totals and chart need. `bucket_us`
    /// is the caller's constant and must be positive (asserted by the store).
    pub async fn spend_buckets(
        &self,
        who: &Principal,
        q: &AuthorizationQuery,
        bucket_us: i64,
    ) -> Result<Vec<store::SpendBucket>> {
        let filter = self.scoped_filter(who, q).await?;
        Ok(self.store().spend_buckets(who.org()?, &filter, bucket_us).await?)
    }

    /// One query whatever the scope: a named card must be one the caller may read (404
    /// otherwise), and the role's scope applies on top.
    async fn find_authorizations(
        &self,
        who: &Principal,
        q: &AuthorizationQuery,
        limit: i64,
    ) -> Result<Vec<AuthorizationView>> {
        let filter = self.scoped_filter(who, q).await?;
        let rows = self.store().search_authorizations(who.org()?, &filter, limit).await?;
        Ok(rows.iter().map(AuthorizationView::from).collect())
    }

    /// `q` narrowed to what `who` may read.
    async fn scoped_filter(
        &self,
        who: &Principal,
        q: &AuthorizationQuery,
    ) -> Result<AuthorizationFilter> {
        who.org()?;
        if let Some(card) = q.card_id {
            self.issuing.visible_card(who, card).await?;
        }
        let (group_path, card_holder) = match who.role {
            Role::Driver => (None, Some(who.user_id)),
            _ => (who.fleet_scope()?.group_path, None),
        };
        Ok(AuthorizationFilter {
            group_path,
            card_holder,
            card_id: q.card_id,
            status: q.status,
            driver_id: q.driver_id,
            vehicle_id: q.vehicle_id,
            station_id: q.station_id,
            from_us: q.from_us,
            to_us: q.to_us,
        })
    }
}
