#![allow(missing_docs)]
use arena_core::Winner;
use arena_rating::*;
#[test]
fn dbg() {
    let rows: &[(u8,u8,u8)] = &[(0, 0, 0), (0, 1, 2), (3, 0, 2), (2, 2, 0), (1, 0, 0)];
    for rot in 0..5 {
        let mut r = rows.to_vec(); r.reverse(); r.rotate_left(rot);
        let mut c = Comparisons::new();
        for &(a,b,w) in &r { c.add(&format!("m{a}"), &format!("m{b}"), Winner::ALL[w as usize], 1.0); }
        let (fit, lb) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        eprintln!("rot {rot}: names {:?} theta {:?} iters {} relgrad {:e} ridge {}", fit.model_names(), fit.theta(), fit.iterations(), fit.relative_gradient(), fit.ridge());
        let _ = lb;
    }
}
