//! `--dry-run` as a venue: every step of the day runs against [`DryRun`], which reads the
//! real account and asks the broker's preview, but places, replaces and cancels nothing.
//! What the day would have placed or canceled is remembered, so the later steps see the
//! account as the real run would leave it before the market trades: a stop canceled to make
//! room for a sell is gone, the stop that replaces it works, and a replace is previewed as a
//! replace. A dry run predicts the real run; it does not raise alarms the real run would not.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use systrade_broker::{
    Account, Broker, BrokerError, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, Position,
    Preview,
};
use systrade_core::contracts::ClientOrderId;

/// A broker seen through a dry run.
pub struct DryRun<B: Broker + ?Sized> {
    inner: Box<B>,
    /// Working orders of the venue the day would have canceled or replaced.
    canceled: BTreeSet<ClientOrderId>,
    /// Orders the day would have placed, as the preview answered.
    placed: BTreeMap<ClientOrderId, BrokerOrder>,
}

impl<B: Broker + ?Sized> DryRun<B> {
    pub fn new(inner: Box<B>) -> Self {
        DryRun {
            inner,
            canceled: BTreeSet::new(),
            placed: BTreeMap::new(),
        }
    }

    fn freeing(&self, more: &[ClientOrderId]) -> Vec<ClientOrderId> {
        self.canceled.iter().chain(more).cloned().collect()
    }

    /// The preview of `req` as the order the venue would hold.
    fn previewed(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<BrokerOrder, BrokerError> {
        if self.placed.contains_key(&req.client_order_id)
            || self.inner.order(&req.client_order_id)?.is_some()
        {
            return Err(BrokerError::Duplicate(req.client_order_id.clone()));
        }
        let pv = self.inner.preview(req, &self.freeing(freeing))?;
        let order = BrokerOrder {
            client_order_id: req.client_order_id.clone(),
            broker_id: format!("dry-run-{}", self.placed.len() + 1),
            symbol: req.symbol.clone(),
            side: req.side,
            qty: req.qty,
            order_type: req.order_type,
            tif: req.tif,
            session: req.session,
            status: if pv.accepted {
                OrderStatus::Accepted
            } else {
                OrderStatus::Rejected
            },
            filled_qty: rust_decimal::Decimal::ZERO,
            avg_price: None,
            reason: Some(match pv.reason {
                Some(why) => why,
                None => "dry run: the broker's preview accepts it".into(),
            }),
        };
        self.placed
            .insert(req.client_order_id.clone(), order.clone());
        Ok(order)
    }

    /// Cancels `id` in the dry run's view (a previewed order, or one working at the venue).
    fn forget(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        if let Some(o) = self.placed.get_mut(id) {
            o.status = OrderStatus::Canceled;
            return Ok(o.clone());
        }
        let mut o = self
            .inner
            .order(id)?
            .filter(|o| !self.canceled.contains(&o.client_order_id))
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !o.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                o.status
            )));
        }
        self.canceled.insert(id.clone());
        o.status = OrderStatus::Canceled;
        Ok(o)
    }
}

impl<B: Broker + ?Sized> Broker for DryRun<B> {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        self.inner.account()
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        self.inner.positions()
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let mut out: Vec<BrokerOrder> = self
            .inner
            .open_orders()?
            .into_iter()
            .filter(|o| !self.canceled.contains(&o.client_order_id))
            .collect();
        out.extend(self.placed.values().filter(|o| o.status.is_open()).cloned());
        Ok(out)
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        if let Some(o) = self.placed.get(id) {
            return Ok(Some(o.clone()));
        }
        Ok(self.inner.order(id)?.map(|mut o| {
            if self.canceled.contains(id) {
                o.status = OrderStatus::Canceled;
            }
            o
        }))
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        self.inner.fills(since)
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        self.previewed(req, &[])
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        self.forget(id)
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let placed = self.previewed(new, std::slice::from_ref(id))?;
        if placed.status != OrderStatus::Rejected {
            // Like the venue: a rejected replacement leaves the old order working.
            self.forget(id)?;
        }
        Ok(placed)
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        let freeing = self.freeing(freeing);
        self.inner.preview(req, &freeing)
    }
}
