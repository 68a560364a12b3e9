fn main() {
    std::process::exit(mosaic_fleet::run(std::env::args_os()));
}
