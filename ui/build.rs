//! Compiles the `.slint` screens into Rust, with the Chinese translations
//! bundled (English is the source language of the `.slint` files) and the
//! debug info the testing backend needs to find controls by accessible label.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", config) {
        // A build script reports by exit code; the message is the compiler's.
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed=translations");
}
