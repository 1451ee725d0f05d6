//! The driver against the twin on a pseudo-terminal, one test per scripted
//! behaviour. Real tokio time with short limits; no assertions on durations.

use std::time::Duration;

use super::sim::{spawn_with, Behaviour, CardFixture};
use super::*;
use crate::Health;

fn fast() -> ReaderTimings {
    ReaderTimings::uniform(Duration::from_millis(200))
}

async fn twin(script: Vec<Behaviour>) -> (SerialCardReader<tokio_serial::SerialStream>, sim::Twin) {
    spawn_with(script, fast()).await.expect("pty pair")
}

#[tokio::test]
async fn a_presented_card_is_read() {
    let (mut reader, twin) = twin(vec![Behaviour::Card(CardFixture::resident_example())]).await;
    assert_eq!(reader.health(), Health::Unknown);
    let card = reader.read().await.expect("read").expect("a card");
    assert_eq!(card.name.expose(), "张伟");
    assert_eq!(card.id_number.expose(), "330106199001010026");
    assert!(card.number_valid);
    assert_eq!(card.photo_wlt.as_ref().map(Vec::len), Some(1024));
    assert_eq!(
        twin.commands(),
        [Command::FindCard, Command::SelectCard, Command::ReadText]
    );
    assert_eq!(reader.health(), Health::Ok);
}

#[tokio::test]
async fn no_card_is_none_and_an_exhausted_script_means_no_card() {
    let (mut reader, twin) = twin(vec![Behaviour::NoCard]).await;
    assert!(reader.read().await.expect("read").is_none());
    assert!(reader.read().await.expect("read").is_none());
    assert_eq!(twin.commands(), [Command::FindCard, Command::FindCard]);
    assert_eq!(reader.health(), Health::Ok);
}

#[tokio::test]
async fn behaviours_pushed_later_are_played() {
    let (mut reader, twin) = twin(vec![]).await;
    assert!(reader.read().await.expect("read").is_none());
    twin.push(Behaviour::Card(CardFixture::permit_example()));
    let card = reader.read().await.expect("read").expect("a card");
    assert_eq!(card.kind, CardKind::HkMacauTaiwan);
    assert_eq!(twin.commands_received(), 4);
}

#[tokio::test]
async fn a_card_with_a_bad_check_digit_is_returned_flagged() {
    let mut fx = CardFixture::resident_example();
    fx.id_number = "330106199001010021".into();
    let (mut reader, _twin) = twin(vec![Behaviour::Card(fx)]).await;
    let card = reader.read().await.expect("read").expect("a card");
    assert!(!card.number_valid);
}

#[tokio::test]
async fn a_card_pulled_mid_read_is_card_removed_and_the_next_read_works() {
    let fx = CardFixture::resident_example();
    let (mut reader, twin) = twin(vec![
        Behaviour::CardPulledMidRead(fx.clone()),
        Behaviour::Card(fx),
    ])
    .await;
    let e = reader.read().await.expect_err("pulled");
    assert!(e.is_card_removed(), "{e}");
    assert!(e.to_string().contains("card removed"));
    assert_eq!(
        reader.health(),
        Health::Ok,
        "a pulled card is not a reader fault"
    );
    let card = reader.read().await.expect("read").expect("a card");
    assert_eq!(card.name.expose(), "张伟");
    assert_eq!(twin.commands_received(), 6);
}

#[tokio::test]
async fn one_corrupt_checksum_is_retried() {
    let (mut reader, twin) = twin(vec![Behaviour::CorruptChecksumOnce(
        CardFixture::resident_example(),
    )])
    .await;
    let card = reader.read().await.expect("read").expect("a card");
    assert_eq!(card.id_number.expose(), "330106199001010026");
    assert_eq!(
        twin.commands(),
        [
            Command::FindCard,
            Command::SelectCard,
            Command::ReadText,
            Command::ReadText
        ]
    );
}

#[tokio::test]
async fn persistent_corruption_gives_up_after_two_retries() {
    let (mut reader, twin) = twin(vec![Behaviour::CorruptChecksumAlways]).await;
    let e = reader.read().await.expect_err("corrupt");
    assert!(
        matches!(
            e,
            Error::Frame {
                command: Command::ReadText,
                source: FrameError::Checksum { .. }
            }
        ),
        "{e}"
    );
    assert!(e.is_transient());
    assert_eq!(twin.commands_received(), 5);
    assert!(matches!(reader.health(), Health::Degraded(_)));
}

#[tokio::test]
async fn garbage_without_a_frame_times_out() {
    let (mut reader, _twin) = twin(vec![
        Behaviour::Garbage,
        Behaviour::Card(CardFixture::resident_example()),
    ])
    .await;
    let e = reader.read().await.expect_err("garbage");
    assert!(e.is_timeout(), "{e}");
    assert!(matches!(reader.health(), Health::Fault(_)));
    // The link recovers once the reader talks sense again.
    assert!(reader.read().await.expect("read").is_some());
    assert_eq!(reader.health(), Health::Ok);
}

#[tokio::test]
async fn silence_times_out() {
    let (mut reader, twin) = twin(vec![Behaviour::Silence]).await;
    let e = reader.read().await.expect_err("silent");
    assert!(
        matches!(
            e,
            Error::Timeout {
                command: Command::FindCard,
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.is_transient());
    assert_eq!(twin.commands(), [Command::FindCard]);
    assert!(matches!(reader.health(), Health::Fault(_)));
}

#[tokio::test]
async fn sam_status_probe_answers() {
    let (mut reader, twin) = twin(vec![]).await;
    reader.probe().await.expect("probe");
    assert_eq!(twin.commands(), [Command::SamStatus]);
}

#[tokio::test]
async fn garbage_before_a_reply_is_skipped() {
    // A raw duplex stream: the fake side writes noise, then the reply.
    let (near, mut far) = tokio::io::duplex(4096);
    let mut reader = SerialCardReader::from_transport(near, fast());
    let fake = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut cmd = [0u8; 10];
        far.read_exact(&mut cmd).await.expect("command");
        assert_eq!(cmd, frame::encode(Command::FindCard)[..]);
        far.write_all(&[0x00, 0xAA, 0xAA, 0x13, 0x96, 0x69])
            .await
            .expect("write");
        far.write_all(&frame::encode_reply(&Reply::new(
            Status::FindFailed,
            Vec::new(),
        )))
        .await
        .expect("write");
        far
    });
    assert!(reader.read().await.expect("read").is_none());
    drop(fake.await);
}

#[tokio::test]
async fn sam_fault_is_reported() {
    let (near, mut far) = tokio::io::duplex(4096);
    let mut reader = SerialCardReader::from_transport(near, fast());
    let fake = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut cmd = [0u8; 10];
        far.read_exact(&mut cmd).await.expect("command");
        far.write_all(&frame::encode_reply(&Reply::new(
            Status::SamSelfTestFailed,
            Vec::new(),
        )))
        .await
        .expect("write");
        far
    });
    let e = reader.read().await.expect_err("sam");
    assert!(e.is_sam_fault(), "{e}");
    assert!(matches!(reader.health(), Health::Fault(_)));
    drop(fake.await);
}

#[test]
fn the_trait_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (near, _far) = tokio::io::duplex(64);
    let mut reader = SerialCardReader::from_transport(near, fast());
    let fut = CardReader::read(&mut reader);
    assert_send(&fut);
}
