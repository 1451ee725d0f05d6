//! The runtime side of the business branches: account lookups, the e-ID
//! check, assistance requests, pushed orders, bill payment and the
//! progress query. Each runs in its own task and answers the flow with one
//! event; none blocks the runner, and none logs personal data.

use std::time::Duration;

use tracing::{info, warn};

use super::{qr, PrinterCmd, Runner};
use crate::central::{
    AccountQuery, AssistanceRequest, CentralError, OrderProgress, OrderStep, Payment,
    PaymentRequest, PaymentState, PushedQuery, StepState,
};
use crate::flow::{
    AccountProblem, EidProblem, Event, Holder, PayProblem, PaymentOutcome, QueryProblem,
};

/// How a bill payment is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentTiming {
    /// Time between two polls of central.
    pub poll: Duration,
    /// After this long without central's "paid", the payment is not paid.
    pub timeout: Duration,
}

impl Default for PaymentTiming {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(2),
            timeout: Duration::from_secs(180),
        }
    }
}

/// The printed invoice of a paid bill (the account number masked).
pub fn invoice_receipt(
    payment: &Payment,
    cfg: &crate::config::ReceiptConfig,
    zone: crate::flow::ServiceZone,
) -> Option<kiosk_drivers::printer::Receipt> {
    let invoice = payment.invoice.as_ref()?;
    use crate::model::yuan;
    Some(kiosk_drivers::printer::Receipt {
        title: "供电营业厅自助服务 电费发票".into(),
        business: "电费缴纳".into(),
        local_id: invoice.invoice_no.clone(),
        central_no: Some(payment.payment_id.clone()),
        accepted_at: invoice
            .issued_at
            .with_timezone(&zone.0)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        masked_name: invoice.title.clone(),
        masked_id: String::new(),
        accepted: vec![
            format!(
                "户号 {}",
                kiosk_drivers::pii::mask_middle(&payment.account_no, 4, 2)
            ),
            format!("实收金额 {}", yuan(invoice.amount_fen)),
        ],
        missing: Vec::new(),
        qr_payload: format!("{}invoice/{}", cfg.progress_url, invoice.invoice_no),
        service_phone: cfg.service_phone.clone(),
        footer: vec!["本发票由供电公司开具".to_string()],
        kind: kiosk_drivers::printer::ReceiptKind::Invoice,
    })
}

/// What a receipt says was accepted, business by business (every
/// personal value masked).
pub(super) fn receipt_lines(
    order: &crate::model::Order,
    cfg: &crate::config::ReceiptConfig,
) -> Vec<String> {
    use crate::model::{Business, SupplyRoute};
    let account = order
        .account_no
        .as_deref()
        .map(|a| kiosk_drivers::pii::mask_middle(a, 4, 2))
        .unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(c) = &order.company {
        lines.push(format!(
            "企业客户 {}（{}）",
            kiosk_drivers::pii::mask_middle(&c.credit_code, 6, 4),
            match c.role {
                crate::model::CompanyRole::LegalRepresentative => "法定代表人办理",
                crate::model::CompanyRole::Agent => "经办人办理",
            }
        ));
    }
    if let Some(p) = &order.pushed_from {
        lines.push(format!("确认推送工单 {p}"));
    }
    match order.business {
        Business::NewConnection | Business::CapacityIncrease => {
            let what = if order.business == Business::CapacityIncrease {
                format!("户号 {account} 增容至 {} kW", order.application.capacity_kw)
            } else {
                format!("申请容量 {} kW", order.application.capacity_kw)
            };
            lines.push(format!(
                "{what}（{}）",
                if order.application.residential {
                    "居民"
                } else {
                    "非居民"
                }
            ));
            lines.push(
                match order.application.route {
                    SupplyRoute::LowVoltage => "低压接入，零投资",
                    SupplyRoute::LowVoltageParkAssessment => {
                        "小微企业园区低压接入，待现场勘察及技术经济比较"
                    }
                    SupplyRoute::HighVoltage => "超出低压接入容量，转高压办理，客户经理将联系您",
                    SupplyRoute::HighVoltageByChoice => {
                        "已告知低压接入方案，客户选择高压，客户经理将联系您"
                    }
                }
                .to_string(),
            );
        }
        Business::NameChange => lines.push(format!("户号 {account} 更名至申请人名下")),
        Business::Transfer => {
            lines.push(format!("户号 {account} 过户至申请人名下"));
            match order.transfer {
                Some(t) if t.old_holder_present => lines.push(format!(
                    "原户主 {} 到场核验{}",
                    order.personal.old_holder_name.masked_name(),
                    if t.old_holder_verified { "通过" } else { "" }
                )),
                Some(_) => lines.push("原户主未到场，依据不动产登记信息办理".into()),
                None => {}
            }
        }
        Business::Closure => {
            lines.push(format!("户号 {account} 申请销户"));
            lines.push("抄表结算将另行完成，结清后销户".into());
            lines.push(format!(
                "销户证明将邮寄至 {}",
                kiosk_drivers::pii::mask_middle(order.personal.mailing_address.expose(), 6, 0)
            ));
        }
        Business::PayBill | Business::ProgressQuery => {}
    }
    if !order.certificates.is_empty() {
        lines.push(format!("已调取电子证照 {} 份", order.certificates.len()));
    }
    if let Some(c) = &order.contract {
        lines.push(format!("供用电合同 {} 已电子签署", c.version));
        lines.push(format!("合同查阅：{}{}", cfg.contract_url, c.version));
    }
    lines
}

fn account_problem(e: &CentralError) -> AccountProblem {
    match e {
        CentralError::NotFound { .. } => AccountProblem::NotFound,
        e if e.retry_later() => AccountProblem::Unavailable,
        _ => AccountProblem::NotFound,
    }
}

impl Runner {
    pub(super) fn lookup_account(&self, account_no: Option<String>, holder: Holder) {
        let session = self.state.session.as_ref();
        let holder_id_number = match holder {
            Holder::Nobody => None,
            Holder::Applicant => session
                .and_then(|s| s.applicant.as_ref())
                .map(|a| a.id_number.clone()),
            Holder::OldHolder => session
                .and_then(|s| s.old_holder.as_ref())
                .map(|a| a.id_number.clone()),
        };
        let query = AccountQuery {
            account_no,
            holder_id_number,
        };
        let central = self.services.central.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let result = central
                .account_query(&query)
                .await
                .map_err(|e| account_problem(&e));
            let _ = tx.send(Event::AccountFetched(result)).await;
        });
    }

    pub(super) async fn send_qr(&self, cmd: qr::QrCmd) {
        if let Some(q) = &self.services.qr {
            if q.send(cmd).await.is_err() {
                warn!("qr actor stopped");
            }
        }
    }

    pub(super) fn verify_eid(&self, payload: String) {
        let central = self.services.central.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let request = crate::central::EidRequest { payload };
            let result = match central.verify_eid(&request).await {
                Ok(id) => Ok(crate::flow::CardIdentity {
                    number_valid: id.id_number.is_valid(),
                    name: id.name,
                    id_number: id.id_number,
                    valid_to: id.valid_until,
                    address: None,
                }),
                Err(CentralError::Rejected { code, .. }) if code == "eid-expired" => {
                    Err(EidProblem::Expired)
                }
                Err(e) if e.retry_later() => Err(EidProblem::Unavailable),
                Err(_) => Err(EidProblem::Invalid),
            };
            let _ = tx.send(Event::EidVerified(result)).await;
        });
    }

    pub(super) fn request_assistance(&self) {
        self.counters
            .assistance
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let central = self.services.central.clone();
        let store = self.services.store.clone();
        let request = AssistanceRequest {
            device_id: self.services.device_id.clone(),
            reason: "call-staff".into(),
        };
        tokio::spawn(async move {
            // The alarm in /status stands whether or not central heard it:
            // staff watching the hall see it either way.
            let answer = central.request_assistance(&request).await;
            let detail = match &answer {
                Ok(a) => serde_json::json!({ "request_id": a.request_id }),
                Err(e) => serde_json::json!({ "central": e.to_string() }),
            };
            let _ = tokio::task::spawn_blocking(move || {
                store.audit_event("assistance-requested", &request.device_id, detail)
            })
            .await;
        });
    }

    pub(super) fn fetch_pushed(&self) {
        let who = self
            .state
            .session
            .as_ref()
            .and_then(|s| s.applicant.as_ref())
            .map(|a| a.id_number.clone());
        let central = self.services.central.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let orders = match who {
                None => Vec::new(),
                Some(id_number) => match central.pushed_orders(&PushedQuery { id_number }).await {
                    Ok(p) => p.orders,
                    Err(e) => {
                        // Never blocks the visit: the citizen goes on with
                        // the business they chose.
                        warn!("pushed orders not available: {e}");
                        Vec::new()
                    }
                },
            };
            let _ = tx.send(Event::PushedFetched(orders)).await;
        });
    }

    pub(super) fn create_payment(&self, account_no: String, amount_fen: i64) {
        let central = self.services.central.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let request = PaymentRequest {
                account_no,
                amount_fen,
            };
            let result = central.create_payment(&request).await.map_err(|e| {
                warn!("payment code not issued: {e}");
                PayProblem::Unavailable
            });
            let _ = tx.send(Event::PaymentCreated(result)).await;
        });
    }

    /// Polls central until it says paid (with the invoice), expired, or the
    /// time limit passes. Only central's own `paid` answer makes it paid.
    pub(super) fn watch_payment(&mut self, payment_id: String) {
        if let Some(t) = self.payment_watch.take() {
            t.abort();
        }
        let central = self.services.central.clone();
        let store = self.services.store.clone();
        let counters = self.counters.clone();
        let tx = self.events_tx.clone();
        let timing = self.services.payment;
        self.payment_watch = Some(tokio::spawn(async move {
            let outcome = watch(&central, &payment_id, timing).await;
            if let PaymentOutcome::Paid(invoice) = &outcome {
                counters
                    .payments
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let detail = serde_json::json!({
                    "payment_id": payment_id,
                    "invoice_no": invoice.invoice_no,
                    "amount_fen": invoice.amount_fen,
                });
                let id = payment_id.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    store.audit_event("payment-confirmed", &id, detail)
                })
                .await;
                info!(payment = %payment_id, "payment confirmed by central");
            } else {
                info!(payment = %payment_id, "payment not confirmed");
            }
            let _ = tx.send(Event::PaymentFinished(outcome)).await;
        }));
    }

    pub(super) async fn print_invoice(&self, payment: Payment) {
        let Some(receipt) = invoice_receipt(
            &payment,
            &self.services.receipt,
            self.services.flow.config.time_zone,
        ) else {
            let _ = self
                .events_tx
                .send(Event::ReceiptPrinted(Err("no invoice to print".into())))
                .await;
            return;
        };
        let local_id = receipt.local_id.clone();
        let cmd = PrinterCmd::Print {
            local_id,
            receipt: Box::new(receipt),
        };
        if self.services.printer.send(cmd).await.is_err() {
            let _ = self
                .events_tx
                .send(Event::ReceiptPrinted(Err("printer actor stopped".into())))
                .await;
        }
    }

    /// A local order (by the id on its receipt) answers from the store when
    /// central has no number for it yet or cannot be reached; anything else
    /// is central's to answer.
    pub(super) fn fetch_progress(&self, reference: String) {
        let store = self.services.store.clone();
        let central = self.services.central.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let local = {
                let r = reference.clone();
                tokio::task::spawn_blocking(move || store.order(&r))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
            };
            let asked = local
                .as_ref()
                .and_then(|o| o.central_no.clone())
                .unwrap_or_else(|| reference.clone());
            let result = match (central.order_progress(&asked).await, &local) {
                (Ok(p), _) => Ok(p),
                (Err(_), Some(order)) => Ok(local_progress(order)),
                (Err(CentralError::NotFound { .. }), None) => Err(QueryProblem::NotFound),
                (Err(e), None) if e.retry_later() => Err(QueryProblem::Unavailable),
                (Err(_), None) => Err(QueryProblem::NotFound),
            };
            let _ = tx.send(Event::ProgressFetched(result)).await;
        });
    }
}

/// What the kiosk itself knows of an order central has not confirmed.
fn local_progress(order: &crate::model::Order) -> OrderProgress {
    OrderProgress {
        order_no: order.local_id.clone(),
        business: order.business,
        accepted_at: order.accepted_at,
        steps: vec![
            OrderStep {
                code: "accepted".into(),
                title: "受理".into(),
                state: StepState::Done,
                started_at: Some(order.accepted_at),
                finished_at: Some(order.accepted_at),
            },
            OrderStep {
                code: "sync".into(),
                title: "上传至供电公司".into(),
                state: StepState::InProgress,
                started_at: Some(order.accepted_at),
                finished_at: None,
            },
        ],
    }
}

/// The payment's fate as central tells it, within `timing.timeout`.
pub async fn watch(
    central: &crate::central::client::CentralClient,
    payment_id: &str,
    timing: PaymentTiming,
) -> PaymentOutcome {
    let deadline = tokio::time::Instant::now() + timing.timeout;
    loop {
        if tokio::time::Instant::now() >= deadline {
            return PaymentOutcome::NotPaid;
        }
        let left = deadline - tokio::time::Instant::now();
        match tokio::time::timeout(left, central.payment(payment_id)).await {
            Err(_) => return PaymentOutcome::NotPaid,
            Ok(Ok(p)) => match (p.state, p.invoice) {
                (PaymentState::Paid, Some(invoice)) if p.payment_id == payment_id => {
                    return PaymentOutcome::Paid(invoice)
                }
                (PaymentState::Expired, _) => return PaymentOutcome::NotPaid,
                // Pending, or "paid" without an invoice yet: keep asking.
                _ => {}
            },
            // Central unreachable or answering garbage: keep asking until
            // the deadline; never assume paid.
            Ok(Err(e)) => warn!("payment poll: {e}"),
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(timing.poll.min(left)).await;
    }
}
