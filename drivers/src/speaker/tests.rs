use super::espeak::EspeakSpeaker;
use super::sim::SimSpeaker;
use super::*;

/// Duration of a 16-bit mono WAV in milliseconds, from its header.
fn wav_ms(wav: &[u8]) -> u64 {
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]) as u64;
    let data = wav.len().saturating_sub(44) as u64;
    data * 1000 / (rate * 2)
}

#[test]
fn espeak_speaks_mandarin_and_english_to_wav() {
    let s = EspeakSpeaker::new("espeak-ng");
    let zh = s
        .synthesize("请点击开始办理", Voice::Mandarin, 3)
        .expect("espeak-ng is installed by scripts/setup.sh");
    let en = s
        .synthesize("Tap Start", Voice::English, 3)
        .expect("english");
    assert!(wav_ms(&zh) > 500, "{} ms", wav_ms(&zh));
    assert!(wav_ms(&en) > 300, "{} ms", wav_ms(&en));
}

#[test]
fn a_text_that_looks_like_an_option_is_spoken_not_parsed() {
    let s = EspeakSpeaker::new("espeak-ng");
    let wav = s
        .synthesize("--version", Voice::English, 3)
        .expect("spoken");
    assert!(wav_ms(&wav) > 100);
}

#[test]
fn a_missing_program_is_a_spawn_error_and_a_fault() {
    let mut s = EspeakSpeaker::new("/nonexistent/espeak-ng");
    let e = s.say("hello", Voice::English, 3).expect_err("no program");
    assert!(matches!(e, Error::Spawn { .. }), "{e}");
    assert!(matches!(s.health(), crate::Health::Fault(_)));
    // Silence (volume 0) never starts a process, so it cannot fail.
    assert!(s.say("hello", Voice::English, 0).is_ok());
}

#[test]
fn the_twin_records_what_was_said_and_injects_faults() {
    let (mut s, control) = SimSpeaker::new();
    s.say("你好", Voice::Mandarin, 3).expect("say");
    s.say("", Voice::Mandarin, 3).expect("nothing to say");
    s.say("muted", Voice::English, 0).expect("silent");
    control.fail_next("amplifier unplugged");
    assert!(s.say("hello", Voice::English, 3).is_err());
    assert!(matches!(s.health(), crate::Health::Fault(_)));
    s.stop().expect("stop");
    let said = control.said();
    assert_eq!(said.len(), 1);
    assert_eq!(said[0].text, "你好");
    assert_eq!(said[0].voice, Voice::Mandarin);
    assert_eq!(control.stops(), 1);
}
