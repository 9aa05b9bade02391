//! Fleet accounts: balances, top-ups by the issuer, the statement, and the fleet's view of
//! its authorizations.

use crate::views::{AccountView, AuthorizationView, PostingView};
use crate::{now_us, Authorizer};
use domain::{CardId, FieldError, OrgId, Role};
use issuing::{IssuingError, Principal, Result};
use serde::Deserialize;
use store::{AuthorizerStore, Store};

/// Most rows a statement or listing returns.
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

    /// Fills of the caller's fleet: owners all, admins their depots' cards, drivers their
    /// own cards; `card` narrows to one card the caller may read.
    pub async fn authorizations(
        &self,
        who: &Principal,
        card: Option<CardId>,
    ) -> Result<Vec<AuthorizationView>> {
        let org = who.org()?;
        let visible_cards = match card {
            Some(id) => Some(vec![self.issuing.visible_card(who, id).await?.id]),
            None if who.role == Role::Owner => None,
            None => Some(self.issuing.list_cards(who, None).await?.iter().map(|c| c.id).collect()),
        };
        let rows = match &visible_cards {
            None => self.store().list_authorizations(org, None, MAX_LISTING_ROWS).await?,
            Some(cards) => {
                let mut rows = Vec::new();
                for card in cards {
                    rows.extend(
                        self.store()
                            .list_authorizations(org, Some(*card), MAX_LISTING_ROWS)
                            .await?,
                    );
                }
                rows.sort_by_key(|r| std::cmp::Reverse(r.created_us));
                rows
            }
        };
        Ok(rows.iter().map(AuthorizationView::from).collect())
    }
}
