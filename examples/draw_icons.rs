//! Draws the tray icons into `resources/tray/` (run from the crate root):
//!
//! ```sh
//! cargo run --example draw_icons            # writes the PNGs
//! cargo run --example draw_icons -- --check # fails if the committed PNGs differ from a fresh draw
//! cargo run --example draw_icons -- --app-icon [--check] # the app icon, see `app_icon`
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
    if std::env::args().any(|a| a == "--app-icon") {
        return app_icon(check);
    }
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

/// Sizes of the Linux hicolor theme's app icons (`resources/hicolor/<n>x<n>/apps/`).
const HICOLOR: [u32; 8] = [16, 24, 32, 48, 64, 128, 256, 512];

/// The `.icns` entries: the PNG-only types, each a pixel size (1x and 2x of 16–512 pt).
const ICNS: [(&[u8; 4], u32); 8] = [
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic13", 256),
    (b"ic08", 256),
    (b"ic14", 512),
    (b"ic09", 512),
    (b"ic10", 1024),
];

/// The app icon is the healthy tray picture (the green dot with its check mark), so the app, the
/// menu bar and the Linux menus show one mark:
/// - `resources/hicolor/<n>x<n>/apps/serve-doctor.png`: the tray artwork drawn at each size
///   (the dot already keeps the margin hicolor icons have);
/// - `resources/AppIcon.icns`: the same dot on Apple's icon grid, whose artwork spans 824 of
///   1024 px, so it lines up with other apps in Finder and the Dock; PNG entries only, which
///   every macOS since 10.7 reads.
fn app_icon(check: bool) -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources");
    let mut outputs: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
    for size in HICOLOR {
        let png = encode(&draw(Look::Green, Style::Color, size), size)?;
        let path = root.join(format!("hicolor/{size}x{size}/apps/serve-doctor.png"));
        outputs.push((path, png));
    }
    let mut by_size = std::collections::BTreeMap::new();
    for (_, size) in ICNS {
        if let std::collections::btree_map::Entry::Vacant(e) = by_size.entry(size) {
            e.insert(encode(&mac_icon(size), size)?);
        }
    }
    let entries: Vec<(&[u8; 4], &[u8])> = ICNS
        .iter()
        .map(|(kind, size)| (*kind, by_size[size].as_slice()))
        .collect();
    outputs.push((root.join("AppIcon.icns"), icns(&entries)?));

    let mut stale = Vec::new();
    for (path, bytes) in outputs {
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                stale.push(path.display().to_string());
            }
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, &bytes)?;
            println!("{} ({} bytes)", path.display(), bytes.len());
        }
    }
    if !stale.is_empty() {
        return Err(format!(
            "stale app icons, rerun `cargo run --example draw_icons -- --app-icon`: {}",
            stale.join(", ")
        )
        .into());
    }
    Ok(())
}

/// The tray artwork centred on a transparent `size` canvas, the dot's diameter 824/1024 of it.
fn mac_icon(size: u32) -> Vec<u8> {
    // The artwork's dot spans 2 * DOT_R of its own square.
    let want = size as f32 * 824.0 / 1024.0 / (2.0 * DOT_R);
    // Same parity as the canvas, so the margins are whole pixels on both sides.
    let mut inner = want.round() as u32;
    if (size - inner) % 2 == 1 {
        inner += 1;
    }
    let art = draw(Look::Green, Style::Color, inner);
    let pad = (size - inner) / 2;
    let mut out = vec![0u8; (size * size * 4) as usize];
    for y in 0..inner {
        let src = (y * inner * 4) as usize;
        let dst = (((y + pad) * size + pad) * 4) as usize;
        out[dst..dst + (inner * 4) as usize].copy_from_slice(&art[src..src + (inner * 4) as usize]);
    }
    out
}

/// An `.icns` file: "icns", the total length, then (type, length including its 8-byte header,
/// data) per entry, all lengths big-endian.
fn icns(entries: &[(&[u8; 4], &[u8])]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let body: usize = entries.iter().map(|(_, d)| 8 + d.len()).sum();
    let mut out = Vec::with_capacity(8 + body);
    out.extend_from_slice(b"icns");
    out.extend_from_slice(&u32::try_from(8 + body)?.to_be_bytes());
    for (kind, data) in entries {
        out.extend_from_slice(*kind);
        out.extend_from_slice(&u32::try_from(8 + data.len())?.to_be_bytes());
        out.extend_from_slice(data);
    }
    Ok(out)
}
