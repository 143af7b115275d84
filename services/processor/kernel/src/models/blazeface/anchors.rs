//! BlazeFace's anchors: MediaPipe's SSD anchors for the 128×128 short-range model, with
//! fixed unit size, so only their centres matter. 16×16 cells with 2 anchors each (stride 8),
//! then 8×8 cells with 6 each (the three stride-16 layers merged): 512 + 384 = 896, in the
//! order of the model's two output pairs. Row, then column, then the anchors of a cell.

/// Anchors of the first output pair, then of the second.
pub(super) const GRIDS: [Grid; 2] = [
    Grid {
        cells: 16,
        per_cell: 2,
    },
    Grid {
        cells: 8,
        per_cell: 6,
    },
];

#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub cells: usize,
    pub per_cell: usize,
}

impl Grid {
    pub(super) fn len(self) -> usize {
        self.cells * self.cells * self.per_cell
    }

    /// Each anchor's centre, in units of the input's side (0 to 1).
    pub(super) fn centres(self) -> impl Iterator<Item = (f32, f32)> {
        let side = self.cells as f32;
        (0..self.cells).flat_map(move |row| {
            (0..self.cells).flat_map(move |col| {
                let centre = ((col as f32 + 0.5) / side, (row as f32 + 0.5) / side);
                std::iter::repeat_n(centre, self.per_cell)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grids_hold_the_models_896_anchors_in_its_order() {
        assert_eq!(GRIDS.map(Grid::len), [512, 384]);
        let first: Vec<_> = GRIDS[0].centres().collect();
        assert_eq!(first.len(), 512);
        // Two anchors per cell, row-major: the third is the second cell of the first row.
        assert_eq!(first[0], (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(first[1], first[0]);
        assert_eq!(first[2], (1.5 / 16.0, 0.5 / 16.0));
        assert_eq!(first[32], (0.5 / 16.0, 1.5 / 16.0));
        let second: Vec<_> = GRIDS[1].centres().collect();
        assert_eq!(second[6], (1.5 / 8.0, 0.5 / 8.0));
        assert_eq!(second[383], (7.5 / 8.0, 7.5 / 8.0));
    }
}
