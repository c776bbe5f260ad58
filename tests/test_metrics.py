import pytest
import torch

from linnet.metrics import Accumulator, accuracy, confusion_matrix


def test_accuracy_counts_argmax_of_logits():
    logits = torch.tensor([[0.1, 0.9, 0.0],     # -> 1
                           [2.0, 1.0, 0.5],     # -> 0
                           [0.0, 0.2, 0.3],     # -> 2
                           [0.7, 0.1, 0.2]])    # -> 0
    y = torch.tensor([1, 0, 1, 2])
    assert accuracy(logits, y) == 2
    assert isinstance(accuracy(logits, y), int)


def test_accuracy_of_class_labels_against_labels():
    y_hat = torch.tensor([3, 1, 4, 1, 5])
    y = torch.tensor([3, 1, 4, 0, 0])
    assert accuracy(y_hat, y) == 3
    assert accuracy(y, y) == 5
    assert accuracy(torch.tensor([], dtype=torch.int64), torch.tensor([], dtype=torch.int64)) == 0


def test_accuracy_matches_the_chapters_example():
    # d2l 3.6: y_hat rows [0.1, 0.3, 0.6] and [0.3, 0.2, 0.5], labels [0, 2] -> one correct
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert accuracy(y_hat, torch.tensor([0, 2])) == 1


def test_accumulator_adds_resets_and_indexes():
    acc = Accumulator(3)
    assert [acc[i] for i in range(3)] == [0.0, 0.0, 0.0]
    acc.add(1.5, 2, 10)
    acc.add(torch.tensor(0.5), torch.tensor(3), 6)   # 0-d tensors are summed as numbers
    assert [acc[0], acc[1], acc[2]] == [2.0, 5.0, 16.0]
    assert all(isinstance(acc[i], float) for i in range(3))
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]
    with pytest.raises(IndexError):
        acc[3]


def test_confusion_matrix_hand_computed():
    y_true = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 1, 2, 2, 0, 2, 2])
    expected = torch.tensor([[1, 1, 0],    # true 0: one right, one taken for 1
                             [0, 2, 1],    # true 1: two right, one taken for 2
                             [1, 0, 3]])   # true 2: three right, one taken for 0
    cm = confusion_matrix(y_true, y_pred, 3)
    assert torch.equal(cm, expected)
    assert int(cm.sum()) == len(y_true)
    assert int(cm.trace()) == accuracy(y_pred, y_true)


def test_confusion_matrix_keeps_absent_classes():
    cm = confusion_matrix(torch.tensor([1, 1]), torch.tensor([1, 3]), 5)
    assert cm.shape == (5, 5)
    assert int(cm[1, 1]) == 1 and int(cm[1, 3]) == 1 and int(cm.sum()) == 2


def test_per_class_accuracy_is_the_diagonal_over_the_row_sums():
    from linnet.metrics import per_class_accuracy
    m = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    assert per_class_accuracy(m) == [0.75, None, 0.5]     # a class without samples has no accuracy


def test_per_class_table_keeps_label_order_whatever_the_names():
    from linnet.metrics import per_class_table
    m = torch.tensor([[3, 1], [0, 0]])
    assert per_class_table(["T-shirt", "Ankle boot"], m) == [
        {"label": 0, "class": "T-shirt", "acc": 0.75, "samples": 4},
        {"label": 1, "class": "Ankle boot", "acc": None, "samples": 0}]
