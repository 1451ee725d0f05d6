//! Parsing the data of a read reply (`30 01` / `30 10`) into an [`IdCard`].
//!
//! Offsets, worked out once so nobody has to again. In the *whole* `30 01`
//! reply frame (1295 bytes) the text length sits at offset 10, the photo
//! length at 12, the 256-byte text block at 14, the 1024-byte WLT photo at
//! 270 and the checksum at 1294. The frame decoder hands us the data after
//! `SW1 SW2 SW3`, i.e. the frame from offset 10 on without the checksum, so
//! relative to that data:
//!
//! | `30 01` data | offset | `30 10` data | offset |
//! |---|---|---|---|
//! | text length (BE u16) | 0 | text length | 0 |
//! | photo length (BE u16) | 2 | photo length | 2 |
//! | text block | 4 | fingerprint length | 4 |
//! | photo | 4 + text | text block | 6 |
//! | | | photo | 6 + text |
//! | | | fingerprint | 6 + text + photo |
//!
//! Lengths are read with `u16::from_be_bytes`; a public Java reader writes
//! `b[10] << 8 + b[11]`, which parses as `b[10] << (8 + b[11])` and only
//! happens to work while the low byte is zero (see the regression test).
//!
//! The text block is UCS-2 little-endian, padded with spaces; the byte at 248
//! says which card it is ([`CardKind`]), and the field layout depends on it
//! (DOMAIN.md §4). A card whose number fails its check is still returned,
//! with `number_valid = false`: the caller decides, nothing is dropped.

use std::fmt;

use serde_json::{json, Value};

use crate::pii::{mask_middle, IdNumber, Personal};

/// Size of the text block.
pub const TEXT_LEN: usize = 256;
/// Size of the WLT photo.
pub const PHOTO_LEN: usize = 1024;
/// Offset of the card-type flag in the text block.
pub const KIND_FLAG_OFFSET: usize = 248;

/// Why the data of a read reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The data is shorter than its own length fields say.
    #[error("read reply truncated: {what} needs {need} bytes of data, {have} present")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The text length field is below the 256 bytes every layout needs.
    #[error("text block of {0} bytes, expected {TEXT_LEN}")]
    TextLength(usize),
    /// The lengths fit neither the `30 01` nor the `30 10` layout.
    #[error("reply data of {have} bytes matches neither a 30 01 nor a 30 10 layout")]
    Layout {
        /// Bytes present.
        have: usize,
    },
    /// The card-type flag at byte 248 is not one we know.
    #[error("unknown card type flag {0:#04x} at text byte 248")]
    UnknownCardType(u8),
}

/// Which card the text block describes (flag at byte 248).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    /// `' '`: resident identity card of the PRC.
    Resident,
    /// `'I'`: foreign permanent resident ID card, 2017 edition.
    ForeignPermanent,
    /// `'Y'`: foreign permanent resident ID card, 2023 edition. Parsed with the
    /// 2017 layout (one public source only; unverified on a real card).
    ForeignPermanent2023,
    /// `'J'`: residence permit for Hong Kong, Macau and Taiwan residents.
    HkMacauTaiwan,
}

impl CardKind {
    /// The kind for a flag byte.
    pub fn from_flag(flag: u8) -> Option<Self> {
        match flag {
            b' ' => Some(CardKind::Resident),
            b'I' => Some(CardKind::ForeignPermanent),
            b'Y' => Some(CardKind::ForeignPermanent2023),
            b'J' => Some(CardKind::HkMacauTaiwan),
            _ => None,
        }
    }

    /// The flag byte.
    pub fn flag(self) -> u8 {
        match self {
            CardKind::Resident => b' ',
            CardKind::ForeignPermanent => b'I',
            CardKind::ForeignPermanent2023 => b'Y',
            CardKind::HkMacauTaiwan => b'J',
        }
    }

    /// Whether it is a foreign permanent resident card of either edition.
    pub fn is_foreign_permanent(self) -> bool {
        matches!(
            self,
            CardKind::ForeignPermanent | CardKind::ForeignPermanent2023
        )
    }

    /// A stable name for JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Resident => "resident",
            CardKind::ForeignPermanent => "foreign-permanent-2017",
            CardKind::ForeignPermanent2023 => "foreign-permanent-2023",
            CardKind::HkMacauTaiwan => "hk-macau-taiwan",
        }
    }
}

/// Sex as the card encodes it (`1` male, `2` female, `0`/`9` unstated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Code `1`.
    Male,
    /// Code `2`.
    Female,
    /// Code `0`, `9`, or anything unrecognised.
    Unstated,
}

impl Sex {
    /// The sex for a code character.
    pub fn from_code(code: &str) -> Self {
        match code.trim() {
            "1" => Sex::Male,
            "2" => Sex::Female,
            _ => Sex::Unstated,
        }
    }

    /// A stable name for JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unstated => "unstated",
        }
    }
}

/// Nation codes of GB 3304 (01–56, 97, 98) and their Chinese names.
const NATIONS: [&str; 56] = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
];

/// The Chinese name for a two-digit nation code, `None` for an unknown code.
pub fn nation_name(code: &str) -> Option<&'static str> {
    match code {
        "97" => Some("其他"),
        "98" => Some("外国血统中国籍人士"),
        _ if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => {
            let n: usize = code.parse().ok()?;
            NATIONS.get(n.checked_sub(1)?).copied()
        }
        _ => None,
    }
}

/// One card as read. Personal fields are [`Personal`]/[`IdNumber`], which
/// mask themselves; `Debug` is written by hand so the birth date and photo
/// stay out of logs too.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCard {
    /// Which card.
    pub kind: CardKind,
    /// Chinese name; for a foreign card without one, the English name.
    pub name: Personal,
    /// English name (foreign permanent resident cards only).
    pub english_name: Option<Personal>,
    /// Sex.
    pub sex: Sex,
    /// Nation name (resident cards; `None` if blank or not applicable, the raw
    /// code if it is not in the GB 3304 table).
    pub nation: Option<String>,
    /// Birth date `YYYYMMDD`.
    pub birth_date: String,
    /// Address (not on foreign permanent resident cards).
    pub address: Option<Personal>,
    /// Card number: resident/permit number, or the permanent-resident number.
    pub id_number: IdNumber,
    /// Whether the number is well formed: GB 11643 check digit for resident
    /// and `J` cards; for `I`/`Y` cards, the published 2017 shape (15
    /// characters: 3 letters and 12 digits), since that check digit's
    /// algorithm is not public.
    pub number_valid: bool,
    /// Issuing authority (name, or the authority code on `I`/`Y` cards).
    pub authority: String,
    /// Valid from `YYYYMMDD`.
    pub valid_from: String,
    /// Valid to `YYYYMMDD`, or `长期` (no expiry).
    pub valid_to: String,
    /// Pass number (`J` cards).
    pub pass_number: Option<Personal>,
    /// Issue count (`J` cards).
    pub issue_count: Option<String>,
    /// Nationality, ISO 3166 alpha-3 (`I`/`Y` cards).
    pub nationality: Option<String>,
    /// Card version (`I`/`Y` cards).
    pub card_version: Option<String>,
    /// The 1024-byte WLT photo, if the reply carried one.
    pub photo_wlt: Option<Vec<u8>>,
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdCard")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("english_name", &self.english_name)
            .field("sex", &self.sex)
            .field("nation", &self.nation)
            .field("birth_date", &"<hidden>")
            .field("address", &self.address)
            .field("id_number", &self.id_number)
            .field("number_valid", &self.number_valid)
            .field("authority", &self.authority)
            .field("valid_from", &self.valid_from)
            .field("valid_to", &self.valid_to)
            .field("pass_number", &self.pass_number)
            .field("issue_count", &self.issue_count)
            .field("nationality", &self.nationality)
            .field("card_version", &self.card_version)
            .field(
                "photo_wlt",
                &self
                    .photo_wlt
                    .as_ref()
                    .map(|p| format!("<{} bytes>", p.len())),
            )
            .finish()
    }
}

impl IdCard {
    /// The card as JSON. Personal fields are masked unless `unmasked`; the
    /// photo is never included, only its size.
    pub fn to_json(&self, unmasked: bool) -> Value {
        let name = |p: &Personal| {
            if unmasked {
                p.expose().to_owned()
            } else {
                p.masked_name()
            }
        };
        let address = |p: &Personal| {
            if unmasked {
                p.expose().to_owned()
            } else {
                mask_middle(p.expose(), 6, 0)
            }
        };
        let id_number = if unmasked {
            self.id_number.expose().to_owned()
        } else {
            self.id_number.masked()
        };
        let birth_date = if unmasked {
            self.birth_date.clone()
        } else {
            mask_middle(&self.birth_date, 4, 0)
        };
        json!({
            "kind": self.kind.as_str(),
            "name": name(&self.name),
            "english_name": self.english_name.as_ref().map(name),
            "sex": self.sex.as_str(),
            "nation": self.nation,
            "birth_date": birth_date,
            "address": self.address.as_ref().map(address),
            "id_number": id_number,
            "number_valid": self.number_valid,
            "authority": self.authority,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "pass_number": self.pass_number.as_ref().map(|p| {
                if unmasked { p.expose().to_owned() } else { mask_middle(p.expose(), 1, 2) }
            }),
            "issue_count": self.issue_count,
            "nationality": self.nationality,
            "card_version": self.card_version,
            "photo_wlt_bytes": self.photo_wlt.as_ref().map(Vec::len),
            "masked": !unmasked,
        })
    }
}

/// Which read command a reply answers (the data layouts differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLayout {
    /// `30 01`: text and photo.
    Text,
    /// `30 10`: text, photo and fingerprint.
    TextFingerprint,
}

fn be16(data: &[u8], at: usize, what: &'static str) -> Result<usize, TextError> {
    match data.get(at..at + 2) {
        Some([hi, lo]) => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(TextError::Truncated {
            what,
            need: at + 2,
            have: data.len(),
        }),
    }
}

/// Parses the data of a read reply (after `SW1 SW2 SW3`).
pub fn parse_read_data(data: &[u8], layout: ReadLayout) -> Result<IdCard, TextError> {
    let text_len = be16(data, 0, "text length")?;
    let photo_len = be16(data, 2, "photo length")?;
    let start = match layout {
        ReadLayout::Text => 4,
        ReadLayout::TextFingerprint => {
            let fp_len = be16(data, 4, "fingerprint length")?;
            let need = 6 + text_len + photo_len + fp_len;
            if data.len() < need {
                return Err(TextError::Truncated {
                    what: "text, photo and fingerprint",
                    need,
                    have: data.len(),
                });
            }
            6
        }
    };
    if text_len < TEXT_LEN {
        return Err(TextError::TextLength(text_len));
    }
    let need = start + text_len + photo_len;
    let (Some(text), Some(photo)) = (
        data.get(start..start + TEXT_LEN),
        data.get(start + text_len..need),
    ) else {
        return Err(TextError::Truncated {
            what: "text and photo",
            need,
            have: data.len(),
        });
    };
    let photo = (!photo.is_empty()).then(|| photo.to_vec());
    parse_text_block(text, photo)
}

/// Parses read-reply data whose command is not known (a file on disk): the
/// `30 01` layout if its lengths add up exactly, else `30 10`'s.
pub fn parse_read_data_any(data: &[u8]) -> Result<IdCard, TextError> {
    let text_len = be16(data, 0, "text length")?;
    let photo_len = be16(data, 2, "photo length")?;
    if data.len() == 4 + text_len + photo_len {
        return parse_read_data(data, ReadLayout::Text);
    }
    if let Ok(fp_len) = be16(data, 4, "fingerprint length") {
        if data.len() == 6 + text_len + photo_len + fp_len {
            return parse_read_data(data, ReadLayout::TextFingerprint);
        }
    }
    if data.len() < 4 + text_len + photo_len {
        // Most likely a 30 01 reply cut short: report it as such.
        return parse_read_data(data, ReadLayout::Text);
    }
    Err(TextError::Layout { have: data.len() })
}

/// A UCS-2 LE field of the text block, trailing spaces and NULs removed.
fn field(block: &[u8], at: usize, len: usize) -> String {
    let bytes = block.get(at..at + len).unwrap_or(&[]);
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    s.trim_end_matches([' ', '\0']).trim_start().to_owned()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Whether a permanent-resident number has the published 2017 shape.
fn pr_number_well_formed(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() == 15
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3..].iter().all(u8::is_ascii_digit)
}

/// Parses a 256-byte text block (longer input is cut to 256 bytes).
pub fn parse_text_block(block: &[u8], photo_wlt: Option<Vec<u8>>) -> Result<IdCard, TextError> {
    let Some(block) = block.get(..TEXT_LEN) else {
        return Err(TextError::TextLength(block.len()));
    };
    let flag = block[KIND_FLAG_OFFSET];
    let kind = CardKind::from_flag(flag).ok_or(TextError::UnknownCardType(flag))?;
    let card = match kind {
        CardKind::Resident | CardKind::HkMacauTaiwan => {
            let id_number = IdNumber::unchecked(&field(block, 122, 36));
            let j = kind == CardKind::HkMacauTaiwan;
            let nation = if j {
                None
            } else {
                non_empty(field(block, 32, 4)).map(|c| nation_name(&c).map_or(c, str::to_owned))
            };
            IdCard {
                kind,
                name: Personal::new(field(block, 0, 30)),
                english_name: None,
                sex: Sex::from_code(&field(block, 30, 2)),
                nation,
                birth_date: field(block, 36, 16),
                address: non_empty(field(block, 52, 70)).map(Personal::new),
                number_valid: id_number.is_valid(),
                id_number,
                authority: field(block, 158, 30),
                valid_from: field(block, 188, 16),
                valid_to: field(block, 204, 16),
                pass_number: j
                    .then(|| non_empty(field(block, 220, 18)))
                    .flatten()
                    .map(Personal::new),
                issue_count: j.then(|| non_empty(field(block, 238, 4))).flatten(),
                nationality: None,
                card_version: None,
                photo_wlt,
            }
        }
        CardKind::ForeignPermanent | CardKind::ForeignPermanent2023 => {
            let english = field(block, 0, 120);
            let chinese = field(block, 158, 30);
            let number = field(block, 122, 30);
            IdCard {
                kind,
                name: Personal::new(if chinese.is_empty() {
                    english.clone()
                } else {
                    chinese
                }),
                english_name: non_empty(english).map(Personal::new),
                sex: Sex::from_code(&field(block, 120, 2)),
                nation: None,
                birth_date: field(block, 220, 16),
                address: None,
                number_valid: pr_number_well_formed(&number),
                id_number: IdNumber::unchecked(&number),
                authority: field(block, 240, 8),
                valid_from: field(block, 188, 16),
                valid_to: field(block, 204, 16),
                pass_number: None,
                issue_count: None,
                nationality: non_empty(field(block, 152, 6)),
                card_version: non_empty(field(block, 236, 4)),
                photo_wlt,
            }
        }
    };
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_card::sim::CardFixture;

    fn data_of(frame: &[u8]) -> &[u8] {
        // Strip header, SW1..SW3 and the checksum.
        &frame[10..frame.len() - 1]
    }

    #[test]
    fn resident_card_parses() {
        let fx = CardFixture::resident_example();
        let frame = fx.reply_frame();
        assert_eq!(frame.len(), 1295);
        assert_eq!(frame[10..14], [0x01, 0x00, 0x04, 0x00]);
        let card = parse_read_data(data_of(&frame), ReadLayout::Text).expect("parses");
        assert_eq!(card.kind, CardKind::Resident);
        assert_eq!(card.name.expose(), "张伟");
        assert_eq!(card.sex, Sex::Female);
        assert_eq!(card.nation.as_deref(), Some("汉"));
        assert_eq!(card.birth_date, "19900101");
        assert_eq!(
            card.address.as_ref().map(Personal::expose),
            Some("浙江省杭州市西湖区文三路100号")
        );
        assert_eq!(card.id_number.expose(), "330106199001010026");
        assert!(card.number_valid);
        assert_eq!(card.authority, "杭州市公安局西湖分局");
        assert_eq!(card.valid_from, "20150101");
        assert_eq!(card.valid_to, "20350101");
        assert_eq!(card.photo_wlt.as_ref().map(Vec::len), Some(PHOTO_LEN));
        assert!(card.english_name.is_none() && card.pass_number.is_none());
    }

    #[test]
    fn long_term_validity_is_kept_as_written() {
        let mut fx = CardFixture::resident_example();
        fx.valid_to = "长期".into();
        let card = parse_read_data(data_of(&fx.reply_frame()), ReadLayout::Text).expect("parses");
        assert_eq!(card.valid_to, "长期");
    }

    #[test]
    fn foreign_permanent_card_parses() {
        let fx = CardFixture::foreign_example();
        let card = parse_text_block(&fx.text_block(), None).expect("parses");
        assert_eq!(card.kind, CardKind::ForeignPermanent);
        assert_eq!(
            card.english_name.as_ref().map(Personal::expose),
            Some("SMITH, JOHN")
        );
        assert_eq!(card.name.expose(), "史密斯");
        assert_eq!(card.sex, Sex::Male);
        assert_eq!(card.id_number.expose(), "USA110085061501");
        assert!(card.number_valid);
        assert_eq!(card.nationality.as_deref(), Some("USA"));
        assert_eq!(card.birth_date, "19850615");
        assert_eq!(card.card_version.as_deref(), Some("01"));
        assert_eq!(card.authority, "1100");
        assert!(card.address.is_none() && card.nation.is_none());
    }

    #[test]
    fn foreign_permanent_2023_card_is_flagged() {
        let mut fx = CardFixture::foreign_example();
        fx.kind = CardKind::ForeignPermanent2023;
        fx.name = String::new();
        let card = parse_text_block(&fx.text_block(), None).expect("parses");
        assert_eq!(card.kind, CardKind::ForeignPermanent2023);
        assert!(card.kind.is_foreign_permanent());
        assert_eq!(card.name.expose(), "SMITH, JOHN");
    }

    #[test]
    fn malformed_permanent_resident_number_is_flagged() {
        let mut fx = CardFixture::foreign_example();
        fx.id_number = "USA11008506150".into();
        let card = parse_text_block(&fx.text_block(), None).expect("parses");
        assert!(!card.number_valid);
    }

    #[test]
    fn hk_macau_taiwan_permit_parses() {
        let fx = CardFixture::permit_example();
        let card = parse_read_data(data_of(&fx.reply_frame()), ReadLayout::Text).expect("parses");
        assert_eq!(card.kind, CardKind::HkMacauTaiwan);
        assert_eq!(card.id_number.expose(), "810000199408230021");
        assert!(card.number_valid);
        assert_eq!(
            card.pass_number.as_ref().map(Personal::expose),
            Some("H12345678")
        );
        assert_eq!(card.issue_count.as_deref(), Some("01"));
        assert_eq!(card.nation, None);
        assert_eq!(
            card.address.as_ref().map(Personal::expose),
            Some("广东省深圳市福田区福华路1号")
        );
    }

    #[test]
    fn failed_check_digit_is_reported_not_dropped() {
        let mut fx = CardFixture::resident_example();
        fx.id_number = "330106199001010021".into();
        let card = parse_text_block(&fx.text_block(), None).expect("parses");
        assert!(!card.number_valid);
        assert_eq!(card.id_number.expose(), "330106199001010021");
    }

    #[test]
    fn fingerprint_layout_starts_text_two_bytes_later() {
        let fx = CardFixture::resident_example();
        let frame = fx.reply_frame_with_fingerprint(513);
        let data = data_of(&frame);
        let card = parse_read_data(data, ReadLayout::TextFingerprint).expect("parses");
        assert_eq!(card.name.expose(), "张伟");
        assert_eq!(parse_read_data_any(data).expect("parses"), card);
        assert_eq!(
            parse_read_data_any(data_of(&fx.reply_frame()))
                .expect("parses")
                .name
                .expose(),
            "张伟"
        );
    }

    /// Regression: `b[10] << 8 + b[11]` is `b[10] << (8 + b[11])`; with a
    /// fingerprint of 513 (02 01) bytes it computes 1024 and misplaces
    /// everything after. We must read 513.
    #[test]
    fn regression_length_precedence_bug() {
        let frame = CardFixture::resident_example().reply_frame_with_fingerprint(513);
        let data = data_of(&frame);
        assert_eq!(data[4..6], [0x02, 0x01]);
        let buggy = (u32::from(data[4])) << (8 + u32::from(data[5]));
        assert_ne!(buggy, 513);
        assert_eq!(be16(data, 4, "fp"), Ok(513));
        assert!(parse_read_data(data, ReadLayout::TextFingerprint).is_ok());
    }

    #[test]
    fn truncated_and_short_data_are_errors() {
        let frame = CardFixture::resident_example().reply_frame();
        let data = data_of(&frame);
        for cut in [0, 1, 3, 4, 100, 259, 260, 1000, data.len() - 1] {
            assert!(
                parse_read_data(&data[..cut], ReadLayout::Text).is_err(),
                "{cut}"
            );
            assert!(parse_read_data_any(&data[..cut]).is_err(), "{cut}");
        }
        let mut short = data.to_vec();
        short[0..2].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(
            parse_read_data(&short, ReadLayout::Text),
            Err(TextError::TextLength(100))
        );
    }

    #[test]
    fn unknown_card_type_is_an_error() {
        let mut block = CardFixture::resident_example().text_block();
        block[KIND_FLAG_OFFSET] = b'Q';
        assert_eq!(
            parse_text_block(&block, None),
            Err(TextError::UnknownCardType(b'Q'))
        );
    }

    #[test]
    fn nation_table_covers_the_codes() {
        assert_eq!(nation_name("01"), Some("汉"));
        assert_eq!(nation_name("56"), Some("基诺"));
        assert_eq!(nation_name("97"), Some("其他"));
        assert_eq!(nation_name("98"), Some("外国血统中国籍人士"));
        assert_eq!(nation_name("00"), None);
        assert_eq!(nation_name("57"), None);
        assert_eq!(nation_name("1"), None);
    }

    #[test]
    fn debug_and_default_json_leak_no_personal_data() {
        let fx = CardFixture::resident_example();
        let card = parse_text_block(&fx.text_block(), Some(vec![0; 1024])).expect("parses");
        let dbg = format!("{card:?}");
        for secret in ["张伟", "19900101", "文三路", "330106199001010026"] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
        let masked = card.to_json(false).to_string();
        for secret in ["张伟", "19900101", "文三路", "330106199001010026"] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        assert!(masked.contains("3301**********0026"));
        let clear = card.to_json(true);
        assert_eq!(clear["id_number"], "330106199001010026");
        assert_eq!(clear["photo_wlt_bytes"], 1024);
    }
}
