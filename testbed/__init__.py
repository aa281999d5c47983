"""The analytic test bed: exact Gaussian-mixture denoisers, the real k-diffusion as an oracle, and the
demo and benchmarks that run the samplers on them. Pure torch (plus matplotlib for plots)."""
