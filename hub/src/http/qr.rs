//! QR codes for the wallet links Alipay and WeChat Pay hand out: the providers return only the
//! link and leave rendering to the merchant (seed 001), so payhub renders it, as SVG and PNG.
//! The images are public (an `<img>` tag cannot send an API key); they show nothing but the
//! link the buyer scans anyway.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use payhub_core::id::PaymentId;
use payhub_core::payment::NextAction;
use qrcode::QrCode;
use qrcode::render::svg;

use super::error::{ApiError, ProblemType};
use crate::app::Hub;

/// Pixels per module, and the four-module quiet zone scanners need around the code.
const SCALE: usize = 8;
const QUIET_ZONE: usize = 4;

pub async fn image(State(hub): State<Hub>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = file.rsplit_once('.') else {
        return ApiError::not_found("QR code", &file).into_response();
    };
    let Some(payment_id) = PaymentId::parse_exact(id) else {
        return ApiError::not_found("QR code", &file).into_response();
    };
    let payment = match hub.db.find_payment(&payment_id).await {
        Ok(Some(payment)) => payment,
        Ok(None) => return ApiError::not_found("QR code", &file).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(NextAction::DisplayQrCode { qr_code }) = payment.next_action() else {
        return ApiError::new(
            ProblemType::InvalidState,
            format!("payment {id} has no QR code to show (it is {})", payment.status().as_str()),
        )
        .with("current_status", payment.status().as_str())
        .into_response();
    };
    let code = match QrCode::new(qr_code.payload.as_bytes()) {
        Ok(code) => code,
        Err(e) => {
            return ApiError::new(ProblemType::InternalError, format!("cannot encode the QR code: {e}"))
                .into_response();
        }
    };
    match format {
        "svg" => ([(header::CONTENT_TYPE, "image/svg+xml")], render_svg(&code)).into_response(),
        "png" => match render_png(&code) {
            Ok(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        },
        _ => ApiError::not_found("QR code format (use .svg or .png)", format).into_response(),
    }
}

pub fn render_svg(code: &QrCode) -> String {
    code.render::<svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build()
}

/// A greyscale PNG, dark modules black on white.
pub fn render_png(code: &QrCode) -> Result<Vec<u8>, String> {
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = ((index % modules + QUIET_ZONE) * SCALE, (index / modules + QUIET_ZONE) * SCALE);
        for row in y..y + SCALE {
            pixels[row * side + x..row * side + x + SCALE].fill(0);
        }
    }
    let mut png = Vec::new();
    let side = u32::try_from(side).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wallet_link_renders_as_svg_and_as_a_png_of_the_right_size() {
        let code = QrCode::new(b"weixin://wxpay/bizpayurl?pr=abc123").unwrap();
        let svg = render_svg(&code);
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        let png = render_png(&code).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let expected = ((code.width() + 2 * QUIET_ZONE) * SCALE) as u32;
        assert_eq!((reader.info().width, reader.info().height), (expected, expected));
    }
}
