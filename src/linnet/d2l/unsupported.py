"""d2l names with no meaning in linnet's layer, each with what to use instead.

`linnet.d2l.__getattr__` raises NotSupported with these messages; a name in none of these
groups is simply unknown (a plain AttributeError).
"""
from __future__ import annotations

_GPU = ("chapter 3 runs on the CPU, as in the book; for another device use "
        "torch.device('cuda' if torch.cuda.is_available() else 'cpu') and move net and batches yourself, "
        "or linnet.fit(..., device=...).")
_DOWNLOAD = ("linnet finds, downloads and MD5-verifies its datasets itself: use d2l.load_data_fashion_mnist(batch_size), "
             "d2l.FashionMNIST(root, download=True), or linnet.load_dataset('fashion-mnist').")
_D2L_1_0 = ("it belongs to d2l 1.0's class API (Module, DataModule, Trainer); linnet's layer runs the book's classic "
            "chapter-3 code (d2l.load_data_fashion_mnist, d2l.train_ch3, ...). linnet's own API does the same "
            "with linnet.build_model and linnet.fit; for the 1.0 classes use `from d2l import torch as d2l`.")
_LATER = ("it comes from a later chapter of the book; linnet's layer covers chapter 3 (linear neural networks). "
          "Use `from d2l import torch as d2l` for it.")

GROUPS = {
    _GPU: ("try_gpu", "try_all_gpus", "num_gpus", "gpu", "cpu"),
    _DOWNLOAD: ("download", "download_extract", "download_all", "DATA_HUB", "DATA_URL"),
    _D2L_1_0: ("HyperParameters", "ProgressBoard", "Module", "DataModule", "Trainer", "SyntheticRegressionData",
               "LinearRegressionScratch", "LinearRegression", "Classifier", "SoftmaxRegression", "SGD",
               "add_to_class"),
    _LATER: ("evaluate_loss", "train_ch6", "evaluate_accuracy_gpu", "corr2d", "Residual", "train_ch8",
             "train_ch11", "train_concise_ch11", "get_data_ch11", "train_ch13", "load_data_time_machine",
             "Vocab", "RNNModel", "RNNModelScratch", "grad_clipping", "train_seq2seq", "predict_seq2seq",
             "EncoderDecoder", "show_heatmaps", "masked_softmax", "bleu", "load_data_nmt", "load_data_imdb",
             "Benchmark"),
}
MESSAGES = {name: f"d2l.{name} is not part of linnet's d2l layer: {why}" for why, names in GROUPS.items()
            for name in names}
