//! Draws the tray icons into `resources/tray/` (run from the crate root):
//!
//! ```sh
//! cargo run --example draw_icons            # writes the PNGs
//! cargo run --example draw_icons -- --check # fails if the committed PNGs differ from a fresh draw
//! ```
//!
//! The geometry and colours come from `serve_doctor::tray::icons`, so the pictures, the tray and
//! the unit tests agree. Anti-aliasing is 8×8 supersampling per pixel: plenty for 22/44 px
//! pictures, and simple enough to trust.

use std::path::Path;

use serve_doctor::tray::icons::{DOT_R, Look, RIM, Scale, Shape, Style, shapes};

const SS: u32 = 8;

/// Mixes one pixel: colour style paints rim, fill, then ink; template style is body XOR ink in
/// black.
fn draw(look: Look, style: Style, size: u32) -> Vec<u8> {
    let (body, ink) = shapes(look);
    // The rim is the outer RIM of the dot, a darker shade of the fill.
    let inner = Shape::Disc {
        cx: 0.5,
        cy: 0.5,
        r: DOT_R - RIM,
    };
    let has_rim = look != Look::Checking;
    let fill = look.fill();
    let rim = fill.map(|c| (c as f32 * 0.72) as u8);
    let ink_rgb = look.ink();
    let mut out = Vec::with_capacity((size * size * 4) as usize);
    for py in 0..size {
        for px in 0..size {
            // Premultiplied accumulation over the sub-samples.
            let mut acc = [0f32; 4];
            for sy in 0..SS {
                for sx in 0..SS {
                    let x = (px as f32 + (sx as f32 + 0.5) / SS as f32) / size as f32;
                    let y = (py as f32 + (sy as f32 + 0.5) / SS as f32) / size as f32;
                    let in_body = body.iter().any(|s| s.contains(x, y));
                    let in_ink = ink.iter().any(|s| s.contains(x, y));
                    let sample: Option<[u8; 3]> = match style {
                        Style::Color if in_ink => Some(ink_rgb),
                        Style::Color if in_body && has_rim && !inner.contains(x, y) => Some(rim),
                        Style::Color if in_body => Some(fill),
                        Style::Color => None,
                        Style::Template if in_body != in_ink => Some([0, 0, 0]),
                        Style::Template => None,
                    };
                    if let Some(c) = sample {
                        acc[0] += c[0] as f32;
                        acc[1] += c[1] as f32;
                        acc[2] += c[2] as f32;
                        acc[3] += 1.0;
                    }
                }
            }
            if acc[3] == 0.0 {
                out.extend_from_slice(&[0, 0, 0, 0]);
            } else {
                let n = (SS * SS) as f32;
                out.extend_from_slice(&[
                    (acc[0] / acc[3]).round() as u8,
                    (acc[1] / acc[3]).round() as u8,
                    (acc[2] / acc[3]).round() as u8,
                    (acc[3] / n * 255.0).round() as u8,
                ]);
            }
        }
    }
    out
}

fn encode(rgba: &[u8], size: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, size, size);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header()?;
        w.write_image_data(rgba)?;
    }
    Ok(bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|a| a == "--check");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/tray");
    std::fs::create_dir_all(&dir)?;
    let mut stale = Vec::new();
    for look in Look::ALL {
        for (style, suffix) in [(Style::Color, ""), (Style::Template, "-template")] {
            for (scale, at) in [(Scale::X1, ""), (Scale::X2, "@2x")] {
                let size = scale.px();
                let png = encode(&draw(look, style, size), size)?;
                let path = dir.join(format!("{}{suffix}{at}.png", look.name()));
                if check {
                    if std::fs::read(&path).ok().as_deref() != Some(&png[..]) {
                        stale.push(path.display().to_string());
                    }
                } else {
                    std::fs::write(&path, &png)?;
                    println!("{} ({} bytes)", path.display(), png.len());
                }
            }
        }
    }
    if !stale.is_empty() {
        return Err(format!(
            "stale icons, rerun `cargo run --example draw_icons`: {}",
            stale.join(", ")
        )
        .into());
    }
    Ok(())
}
