//! The screens without a display: Slint's software renderer draws the
//! window into memory, for the headless demo's screenshots and for tests
//! that measure rendered screens (contrast, touch targets).
//!
//! Slint's platform is per thread: [`Headless::new`] installs it on the
//! calling thread, which then owns the window (it is not `Send`).

use std::path::Path;
use std::rc::Rc;

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize};

use crate::{Screens, UiError, View};

/// Width of the kiosk's screen, pixels.
pub const WIDTH: u32 = 1280;
/// Height of the kiosk's screen, pixels.
pub const HEIGHT: u32 = 800;

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
}

/// A rendered screen: RGB, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// The pixel at `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Writes the frame as a PNG.
    pub fn save_png(&self, path: &Path) -> Result<(), UiError> {
        let err = |source| UiError::Png {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::create(path).map_err(err)?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let io = |e: png::EncodingError| err(std::io::Error::other(e.to_string()));
        let mut w = enc.write_header().map_err(io)?;
        w.write_image_data(&self.rgb).map_err(io)?;
        w.finish().map_err(io)
    }
}

/// The kiosk window drawn in memory.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    screens: Screens,
}

impl Headless {
    /// Installs the headless platform on this thread and creates the window.
    pub fn new() -> Result<Self, UiError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
        }))
        .map_err(|_| UiError::PlatformAlreadySet)?;
        let screens = Screens::new()?;
        window.set_size(PhysicalSize::new(WIDTH, HEIGHT));
        screens.window().show()?;
        Ok(Self { window, screens })
    }

    /// The screens (to find controls or register callbacks).
    pub fn screens(&self) -> &Screens {
        &self.screens
    }

    /// Shows `view` and draws it.
    pub fn render(&self, view: &View) -> Frame {
        self.screens.show(view);
        self.draw()
    }

    /// Draws what the window shows now.
    pub fn draw(&self) -> Frame {
        slint::platform::update_timers_and_animations();
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let mut rgb8 = vec![slint::Rgb8Pixel::default(); w * h];
        self.window.request_redraw();
        self.window.draw_if_needed(|renderer| {
            renderer.render(&mut rgb8, w);
        });
        let rgb = rgb8.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        Frame {
            width: WIDTH,
            height: HEIGHT,
            rgb,
        }
    }
}
