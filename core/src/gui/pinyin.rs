//! A small pinyin input for names, so a citizen without a physical keyboard
//! can type a Chinese name: letters on screen, then a tap on a character.
//! The table covers the commonest surnames and given-name characters; it is
//! data, meant to grow (a full table is a later step, see docs/design.md).

/// Pinyin syllables and their characters, commonest first.
const TABLE: &[(&str, &str)] = &[
    ("zhang", "张章长彰"),
    ("wang", "王汪旺"),
    ("li", "李丽黎莉力立利"),
    ("zhao", "赵钊"),
    ("liu", "刘柳"),
    ("chen", "陈晨辰"),
    ("yang", "杨阳洋"),
    ("huang", "黄皇"),
    ("zhou", "周舟"),
    ("wu", "吴武伍"),
    ("xu", "徐许旭"),
    ("sun", "孙"),
    ("ma", "马"),
    ("zhu", "朱珠竹"),
    ("hu", "胡虎"),
    ("guo", "郭国"),
    ("he", "何贺和"),
    ("lin", "林琳霖"),
    ("luo", "罗洛"),
    ("gao", "高"),
    ("wei", "伟魏维卫薇"),
    ("na", "娜纳"),
    ("fang", "芳方"),
    ("min", "敏民"),
    ("jing", "静晶敬京"),
    ("ming", "明铭"),
    ("hua", "华花"),
    ("jun", "军君俊"),
    ("qiang", "强"),
    ("lei", "磊雷蕾"),
    ("yan", "燕艳岩颜彦"),
    ("yong", "勇永"),
    ("jie", "杰洁婕"),
    ("tao", "涛陶桃"),
    ("chao", "超朝"),
    ("ping", "平萍"),
    ("gang", "刚钢"),
    ("hong", "红洪宏鸿"),
    ("xia", "霞夏"),
    ("hui", "慧辉惠"),
    ("ying", "英颖莹"),
    ("mei", "梅美"),
    ("lan", "兰岚"),
    ("xiu", "秀"),
    ("yu", "玉宇余于雨"),
    ("zhi", "志智芝"),
    ("feng", "峰凤冯锋"),
    ("bin", "斌彬"),
    ("xin", "欣新鑫"),
    ("jian", "建健剑"),
    ("dong", "东冬董"),
    ("hai", "海"),
    ("bo", "波博"),
    ("shan", "山珊"),
    ("wen", "文雯"),
    ("fei", "飞菲"),
    ("ning", "宁"),
    ("kai", "凯"),
    ("jia", "佳嘉家"),
    ("xiao", "小晓肖"),
    ("qing", "青清庆"),
    ("yun", "云芸"),
    ("lu", "陆路卢鲁"),
    ("song", "宋松"),
    ("zheng", "郑正"),
    ("xie", "谢"),
    ("han", "韩涵"),
    ("tang", "唐"),
    ("cao", "曹"),
    ("deng", "邓"),
    ("peng", "彭鹏"),
    ("zeng", "曾"),
    ("tian", "田天"),
    ("pan", "潘"),
    ("yuan", "袁元媛"),
    ("cai", "蔡"),
    ("jiang", "江蒋姜"),
    ("du", "杜"),
    ("ye", "叶"),
    ("cheng", "程成"),
    ("su", "苏"),
    ("lv", "吕"),
    ("ding", "丁"),
    ("shen", "沈"),
    ("ren", "任"),
    ("yao", "姚"),
    ("jin", "金"),
    ("tan", "谭"),
    ("liao", "廖"),
    ("fan", "范"),
    ("shi", "石史"),
    ("bai", "白"),
    ("qin", "秦"),
    ("kong", "孔"),
    ("mao", "毛"),
    ("qiu", "邱"),
    ("xiong", "熊"),
    ("meng", "孟"),
    ("qian", "钱"),
    ("dai", "戴"),
    ("zou", "邹"),
];

/// At most this many candidates show at once.
const MAX: usize = 8;

/// Characters whose pinyin starts with `typed` (exact syllables first).
pub fn candidates(typed: &str) -> Vec<char> {
    if typed.is_empty() {
        return Vec::new();
    }
    let exact = TABLE.iter().filter(|(p, _)| *p == typed);
    let prefix = TABLE
        .iter()
        .filter(|(p, _)| *p != typed && p.starts_with(typed));
    let mut out: Vec<char> = Vec::new();
    for (_, chars) in exact.chain(prefix) {
        for c in chars.chars() {
            if !out.contains(&c) && out.len() < MAX {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_citizens_names_can_be_typed() {
        for (py, c) in [
            ("zhang", '张'),
            ("wei", '伟'),
            ("li", '李'),
            ("na", '娜'),
            ("wang", '王'),
            ("fang", '芳'),
        ] {
            assert!(candidates(py).contains(&c), "{py} -> {c}");
        }
    }

    #[test]
    fn exact_syllable_comes_first_and_the_list_is_bounded() {
        assert_eq!(candidates("li").first(), Some(&'李'));
        assert!(candidates("z").len() <= MAX);
        assert!(candidates("").is_empty());
        assert!(candidates("qqq").is_empty());
    }
}
