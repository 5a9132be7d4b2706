"""One tiny build per model family, shared by the feature / compile / checkpointing tests.

name -> (kwargs for create_model, input shape [C, H, W]). Sizes are cut down (widths, depth)
so each test runs in well under a second per family on a CPU.
"""

TINY = {
    "spiking_cnn_tiny": (dict(), (1, 8, 8)),
    "sew_resnet18": (dict(widths=(8, 8, 16, 16)), (3, 32, 32)),  # ImageNet stem (conv/2 + max-pool)
    "spiking_resnet18_cifar": (dict(widths=(8, 8, 16, 16)), (3, 16, 16)),
    "spiking_resnet19": (dict(widths=(8, 16, 16), stem_width=8, hidden_dim=16), (3, 16, 16)),
    "spikformer_2_64_digits": (dict(embed_dim=32), (1, 8, 8)),
    "spikingformer_2_64_digits": (dict(embed_dim=32), (1, 8, 8)),
    "qkformer_4_384_cifar": (dict(embed_dim=32, num_heads=2), (3, 16, 16)),
    "spike_driven_transformer_2_256_cifar": (dict(embed_dim=32, num_heads=2), (3, 16, 16)),
    "meta_spikeformer_15m": (dict(embed_dims=(8, 16, 32, 48), depths=(1, 1, 1, 1, 1), num_heads=2), (3, 32, 32)),
}
