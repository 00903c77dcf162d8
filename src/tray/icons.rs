//! The tray icon's looks: which picture shows for which state, and the pictures themselves.
//!
//! Every look is a dot with a shape inside, so it reads without colour: a check mark (green,
//! healthy), a bang (yellow, degraded), a cross (red, broken), a dash (grey, Tailscale unusable or
//! unknown) and, while a diagnosis runs, a hollow ring with three dots (blue, checking). The
//! monochrome *template* style (macOS) keeps only the shape: a black dot with the shape cut out.
//!
//! The geometry lives here as data ([`shapes`]) so that the generator
//! (`cargo run --example draw_icons`) and the unit tests agree on it; the PNGs it writes to
//! `resources/tray/` are committed and embedded with `include_bytes!`, at 1x (22 px) and 2x (44 px,
//! what a Retina menu bar shows at 22 pt).

use anyhow::{Context, anyhow};

use crate::diagnosis::Health;

/// One picture the icon can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Look {
    Green,
    Yellow,
    Red,
    Gray,
    Checking,
}

impl Look {
    pub const ALL: [Look; 5] = [
        Look::Green,
        Look::Yellow,
        Look::Red,
        Look::Gray,
        Look::Checking,
    ];

    /// File stem in `resources/tray/`.
    pub fn name(self) -> &'static str {
        match self {
            Look::Green => "green",
            Look::Yellow => "yellow",
            Look::Red => "red",
            Look::Gray => "gray",
            Look::Checking => "checking",
        }
    }

    /// The fill colour of the colour style (sRGB).
    pub fn fill(self) -> [u8; 3] {
        match self {
            Look::Green => [0x1f, 0x88, 0x3d],
            Look::Yellow => [0xe3, 0xa0, 0x08],
            Look::Red => [0xcf, 0x22, 0x2e],
            Look::Gray => [0x6e, 0x77, 0x81],
            Look::Checking => [0x09, 0x69, 0xda],
        }
    }

    /// The colour of the shape inside the dot: white, except on yellow where white would not
    /// contrast enough, and for the hollow "checking" ring, whose dots sit on nothing.
    pub fn ink(self) -> [u8; 3] {
        match self {
            Look::Yellow => [0x24, 0x29, 0x2f],
            Look::Checking => Look::Checking.fill(),
            _ => [0xff, 0xff, 0xff],
        }
    }

    /// A point (unit coordinates, 0..1 from the top left) that lies on the inner shape.
    pub fn glyph_sample(self) -> (f32, f32) {
        match self {
            Look::Green => (0.44, 0.66),
            Look::Yellow => (0.5, 0.42),
            Look::Red | Look::Gray | Look::Checking => (0.5, 0.5),
        }
    }

    /// A point that lies on the dot (or, for `Checking`, on the ring), away from the shape.
    pub fn ring_sample(self) -> (f32, f32) {
        match self {
            Look::Checking => (0.5, 0.1),
            _ => (0.5, 0.15),
        }
    }
}

/// The icon to show: "checking" while a diagnosis the user is waiting for runs, else the health.
/// Before the first result there is no health yet, which is also "checking".
pub fn look_for(health: Option<Health>, checking: bool) -> Look {
    match (checking, health) {
        (true, _) | (false, None) => Look::Checking,
        (false, Some(Health::Green)) => Look::Green,
        (false, Some(Health::Yellow)) => Look::Yellow,
        (false, Some(Health::Red)) => Look::Red,
        (false, Some(Health::Gray)) => Look::Gray,
    }
}

/// Colour dot, or monochrome template (macOS menu bars tint it for light/dark mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    Color,
    Template,
}

impl From<crate::config::IconStyle> for Style {
    fn from(s: crate::config::IconStyle) -> Style {
        match s {
            crate::config::IconStyle::Color => Style::Color,
            crate::config::IconStyle::Template => Style::Template,
        }
    }
}

/// Pixel density: 1x is 22 px, 2x is 44 px.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    X1,
    X2,
}

impl Scale {
    pub fn px(self) -> u32 {
        match self {
            Scale::X1 => 22,
            Scale::X2 => 44,
        }
    }

    /// What the tray uses. macOS shows icons at 22 pt, so 44 px is crisp on Retina and scaled
    /// down cleanly elsewhere; Linux hosts scale the picture to their panel (22–32 px), and
    /// scaling 44 px down stays sharp where scaling 22 px up would blur. 1x is kept for
    /// documentation and hosts that want it.
    pub fn for_tray() -> Scale {
        Scale::X2
    }
}

/// A drawing primitive in unit coordinates (the picture is 1×1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A filled circle.
    Disc { cx: f32, cy: f32, r: f32 },
    /// A circle outline of width `w`, centred on radius `r`.
    Ring { cx: f32, cy: f32, r: f32, w: f32 },
    /// A line with round caps (a capsule) of width `w`.
    Stroke {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        w: f32,
    },
}

impl Shape {
    /// Whether the unit-space point lies inside the shape.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        match *self {
            Shape::Disc { cx, cy, r } => (x - cx).hypot(y - cy) <= r,
            Shape::Ring { cx, cy, r, w } => ((x - cx).hypot(y - cy) - r).abs() <= w / 2.0,
            Shape::Stroke { x0, y0, x1, y1, w } => {
                let (dx, dy) = (x1 - x0, y1 - y0);
                let len2 = dx * dx + dy * dy;
                let t = if len2 == 0.0 {
                    0.0
                } else {
                    (((x - x0) * dx + (y - y0) * dy) / len2).clamp(0.0, 1.0)
                };
                (x - (x0 + t * dx)).hypot(y - (y0 + t * dy)) <= w / 2.0
            }
        }
    }
}

/// Radius of the dot; the rest of the square is a margin so the dot never touches the panel edge.
pub const DOT_R: f32 = 0.45;
/// Width of the darker rim around the dot (about 1 px at 1x), so the dot holds on light and dark
/// panels alike.
pub const RIM: f32 = 1.0 / 22.0;
const INK_W: f32 = 0.12;

/// The two layers of a look: the body (dot or ring) and the shape inside.
pub fn shapes(look: Look) -> (Vec<Shape>, Vec<Shape>) {
    let s = |x0, y0, x1, y1| Shape::Stroke {
        x0,
        y0,
        x1,
        y1,
        w: INK_W,
    };
    let dot = vec![Shape::Disc {
        cx: 0.5,
        cy: 0.5,
        r: DOT_R,
    }];
    match look {
        Look::Green => (
            dot,
            vec![s(0.29, 0.51, 0.44, 0.66), s(0.44, 0.66, 0.71, 0.36)],
        ),
        Look::Yellow => (
            dot,
            vec![
                s(0.5, 0.25, 0.5, 0.54),
                Shape::Disc {
                    cx: 0.5,
                    cy: 0.72,
                    r: 0.075,
                },
            ],
        ),
        Look::Red => (
            dot,
            vec![s(0.34, 0.34, 0.66, 0.66), s(0.66, 0.34, 0.34, 0.66)],
        ),
        Look::Gray => (dot, vec![s(0.30, 0.5, 0.70, 0.5)]),
        Look::Checking => (
            vec![Shape::Ring {
                cx: 0.5,
                cy: 0.5,
                r: 0.40,
                w: 0.09,
            }],
            [0.31, 0.5, 0.69]
                .into_iter()
                .map(|cx| Shape::Disc {
                    cx,
                    cy: 0.5,
                    r: 0.07,
                })
                .collect(),
        ),
    }
}

/// The committed PNG for a look, style and scale.
pub fn png_bytes(look: Look, style: Style, scale: Scale) -> &'static [u8] {
    macro_rules! pick {
        ($name:literal) => {
            match (style, scale) {
                (Style::Color, Scale::X1) => {
                    include_bytes!(concat!("../../resources/tray/", $name, ".png"))
                }
                (Style::Color, Scale::X2) => {
                    include_bytes!(concat!("../../resources/tray/", $name, "@2x.png"))
                }
                (Style::Template, Scale::X1) => {
                    include_bytes!(concat!("../../resources/tray/", $name, "-template.png"))
                }
                (Style::Template, Scale::X2) => {
                    include_bytes!(concat!("../../resources/tray/", $name, "-template@2x.png"))
                }
            }
        };
    }
    match look {
        Look::Green => pick!("green"),
        Look::Yellow => pick!("yellow"),
        Look::Red => pick!("red"),
        Look::Gray => pick!("gray"),
        Look::Checking => pick!("checking"),
    }
}

/// A decoded picture: 8-bit RGBA rows, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// The pixel under a unit-space point.
    pub fn at_unit(&self, x: f32, y: f32) -> [u8; 4] {
        let px = ((x * self.width as f32) as u32).min(self.width.saturating_sub(1));
        let py = ((y * self.height as f32) as u32).min(self.height.saturating_sub(1));
        let i = ((py * self.width + px) * 4) as usize;
        let mut out = [0; 4];
        if let Some(p) = self.pixels.get(i..i + 4) {
            out.copy_from_slice(p);
        }
        out
    }
}

/// Decodes a PNG to RGBA (the generator writes 8-bit RGBA; anything else is expanded).
pub fn decode(bytes: &[u8]) -> anyhow::Result<Rgba> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().context("reading the PNG header")?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| anyhow!("PNG too large"))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).context("decoding the PNG")?;
    buf.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return Err(anyhow!("indexed PNG was not expanded")),
    };
    Ok(Rgba {
        width: info.width,
        height: info.height,
        pixels,
    })
}

/// The tray icon for a look.
pub fn tray_icon(look: Look, style: Style, scale: Scale) -> anyhow::Result<tray_icon::Icon> {
    let img =
        decode(png_bytes(look, style, scale)).with_context(|| format!("icon {}", look.name()))?;
    tray_icon::Icon::from_rgba(img.pixels, img.width, img.height)
        .map_err(|e| anyhow!("icon {}: {e}", look.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [u8; 4], rgb: [u8; 3], alpha: u8) -> bool {
        let d = |x: u8, y: u8| (x as i32 - y as i32).abs() <= 16;
        d(a[0], rgb[0]) && d(a[1], rgb[1]) && d(a[2], rgb[2]) && d(a[3], alpha)
    }

    #[test]
    fn every_embedded_png_decodes_at_its_size() {
        for look in Look::ALL {
            for style in [Style::Color, Style::Template] {
                for scale in [Scale::X1, Scale::X2] {
                    let img = decode(png_bytes(look, style, scale)).unwrap();
                    assert_eq!(
                        (img.width, img.height),
                        (scale.px(), scale.px()),
                        "{look:?} {style:?} {scale:?}"
                    );
                    assert_eq!(img.pixels.len(), (scale.px() * scale.px() * 4) as usize);
                    // The corners are transparent: the dot keeps a margin.
                    assert_eq!(img.at_unit(0.0, 0.0)[3], 0);
                    tray_icon(look, style, scale).unwrap();
                }
            }
        }
    }

    #[test]
    fn colour_icons_show_fill_and_shape_where_expected() {
        for look in Look::ALL {
            for scale in [Scale::X1, Scale::X2] {
                let img = decode(png_bytes(look, Style::Color, scale)).unwrap();
                let (rx, ry) = look.ring_sample();
                let (gx, gy) = look.glyph_sample();
                let ring = img.at_unit(rx, ry);
                let glyph = img.at_unit(gx, gy);
                assert!(
                    close(ring, look.fill(), 255),
                    "{look:?} {scale:?} ring {ring:?}"
                );
                assert!(
                    close(glyph, look.ink(), 255),
                    "{look:?} {scale:?} glyph {glyph:?}"
                );
            }
        }
    }

    #[test]
    fn template_icons_carry_the_shape_in_alpha_only() {
        for look in Look::ALL {
            let img = decode(png_bytes(look, Style::Template, Scale::X2)).unwrap();
            let (rx, ry) = look.ring_sample();
            let (gx, gy) = look.glyph_sample();
            assert!(close(img.at_unit(rx, ry), [0, 0, 0], 255), "{look:?}");
            let glyph = img.at_unit(gx, gy);
            if look == Look::Checking {
                assert!(close(glyph, [0, 0, 0], 255), "{look:?} {glyph:?}");
            } else {
                assert!(
                    glyph[3] < 16,
                    "{look:?}: the shape is cut out, got {glyph:?}"
                );
            }
            assert!(
                img.pixels
                    .chunks_exact(4)
                    .all(|p| p[0] == 0 && p[1] == 0 && p[2] == 0)
            );
        }
    }

    #[test]
    fn every_look_differs_in_shape() {
        // Compare the template (alpha-only) pictures: no two looks may be the same shape.
        let imgs: Vec<_> = Look::ALL
            .iter()
            .map(|&l| {
                decode(png_bytes(l, Style::Template, Scale::X1))
                    .unwrap()
                    .pixels
            })
            .collect();
        for i in 0..imgs.len() {
            for j in i + 1..imgs.len() {
                let diff = imgs[i]
                    .chunks_exact(4)
                    .zip(imgs[j].chunks_exact(4))
                    .filter(|(a, b)| (a[3] as i32 - b[3] as i32).abs() > 128)
                    .count();
                assert!(
                    diff >= 10,
                    "{:?} vs {:?}: only {diff} pixels differ",
                    Look::ALL[i],
                    Look::ALL[j]
                );
            }
        }
    }

    #[test]
    fn icon_choice_follows_health_and_checking() {
        assert_eq!(look_for(None, false), Look::Checking);
        assert_eq!(look_for(Some(Health::Red), true), Look::Checking);
        assert_eq!(look_for(Some(Health::Green), false), Look::Green);
        assert_eq!(look_for(Some(Health::Yellow), false), Look::Yellow);
        assert_eq!(look_for(Some(Health::Red), false), Look::Red);
        assert_eq!(look_for(Some(Health::Gray), false), Look::Gray);
    }

    #[test]
    fn sample_points_agree_with_the_geometry() {
        for look in Look::ALL {
            let (body, ink) = shapes(look);
            let (gx, gy) = look.glyph_sample();
            let (rx, ry) = look.ring_sample();
            assert!(ink.iter().any(|s| s.contains(gx, gy)), "{look:?}");
            assert!(body.iter().any(|s| s.contains(rx, ry)), "{look:?}");
            assert!(!ink.iter().any(|s| s.contains(rx, ry)), "{look:?}");
        }
    }
}
